package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tokenhost/tokenhost/sdk"
)

// A plugin's error that quotes a helper's standard error holding a JWT: the 502 body, /providers, the
// status page and the fetch span show a fingerprint in its place, never the token.
func TestPluginErrorTokensAreRedactedWhereverServed(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA"
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	src := newFakeSource(time.Hour, time.Now)
	src.setFail(sdk.Unavailable("command corp-cli exited with status 1: cannot use token " + jwt + ": expired"))
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})

	get := func(path string) (int, string) {
		resp, err := http.Get(px.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/p/v1/models", "/providers", "/"} {
		code, body := get(path)
		if strings.Contains(body, jwt) || strings.Contains(body, jwt[:30]) || !strings.Contains(body, "[sha256:") || !strings.Contains(body, "expired") {
			t.Errorf("GET %s = %d, want the plugin's message with the token replaced by its fingerprint:\n%s", path, code, body)
		}
		if path == "/p/v1/models" && code != http.StatusBadGateway {
			t.Errorf("GET %s = %d, want 502", path, code)
		}
	}
	spans := 0
	for _, s := range rec.Ended() {
		text := s.Status().Description
		for _, ev := range s.Events() {
			for _, a := range ev.Attributes {
				text += " " + a.Value.Emit()
			}
		}
		if strings.Contains(text, jwt[:30]) {
			t.Errorf("span %s holds the token: %s", s.Name(), text)
		}
		if strings.Contains(s.Status().Description, "[sha256:") {
			spans++
		}
	}
	if spans == 0 {
		t.Error("no span carries the redacted error: the test saw no failed fetch")
	}
}
