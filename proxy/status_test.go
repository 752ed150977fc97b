package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// lineWriter hands every write (one slog line) to a channel, so a test can wait for the access log line.
type lineWriter chan string

func (l lineWriter) Write(p []byte) (int, error) {
	l <- string(bytes.Clone(p))
	return len(p), nil
}

// An upstream that sends 103 Early Hints before its 200: the access log and the request counter record
// 200, not the informational status that came first.
func TestProxyLogsAndCountsTheFinalStatusNot1xx(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "ok")
	}
	h := newTestHost(t, src, testProvider(up.URL))
	lines := make(lineWriter, 16)
	px := proxyFor(t, h, Options{AccessLog: newTestLogger(lines)})
	resp, err := http.Get(px.URL + "/p/x")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard only
	defer cancel()
	var line string
	for line == "" {
		select {
		case l := <-lines:
			if strings.Contains(l, "msg=request") {
				line = l
			}
		case <-ctx.Done():
			t.Fatal("no access log line")
		}
	}
	if !strings.Contains(line, "status=200") {
		t.Fatalf("access log line %q does not record the final status 200", line)
	}
	m, err := http.Get(px.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(m.Body)
	m.Body.Close()
	if !strings.Contains(string(text), `tokenhost_proxy_requests_total{code="200",provider="p"} 1`) || strings.Contains(string(text), `code="103"`) {
		t.Fatalf("request counter does not record exactly one 200:\n%s", grepLines(string(text), "tokenhost_proxy_requests_total"))
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// blockingSource is an in-process source whose Configure hangs until released, like a plugin that never
// finishes starting.
type blockingSource struct {
	*fakeSource
	entered, release chan struct{}
}

func (b *blockingSource) Configure(ctx context.Context, opts map[string]any) (sdk.Info, error) {
	close(b.entered)
	select {
	case <-b.release:
	case <-ctx.Done():
		return sdk.Info{}, ctx.Err()
	}
	return b.fakeSource.Configure(ctx, opts)
}

// While a plugin hangs in its start (holding the supervisor's lock), /readyz, /providers and /metrics
// still answer; the deadline is a hang guard, not a timing threshold.
func TestProxyStatusEndpointsAnswerWhilePluginHangs(t *testing.T) {
	src := &blockingSource{fakeSource: newFakeSource(time.Hour, time.Now), entered: make(chan struct{}), release: make(chan struct{})}
	up := newUpstream(t, bearerValid(src.fakeSource))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{Eager: true})
	release := sync.OnceFunc(func() { close(src.release) })
	t.Cleanup(release) // runs before the host closes, so a failing test does not hang on the start lock
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(px.URL + "/p/x")
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	<-src.entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard only
	defer cancel()
	get := func(path string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, px.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s did not answer while the plugin hangs: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"p"`) {
		t.Errorf("/readyz = %d %s, want 503 naming p", code, body)
	}
	if code, body := get("/providers"); code != 200 || !strings.Contains(body, `"starting": true`) || strings.Contains(body, `"running": true`) {
		t.Errorf("/providers = %d %s, want p starting and not running", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "tokenhost_breaker_state") {
		t.Errorf("/metrics = %d, without the breaker gauge", code)
	}
	select {
	case <-done:
		t.Fatal("the proxied request finished while the plugin was still hanging")
	default:
	}
	release()
	resp := <-done
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("after the plugin started: %v", resp)
	}
	resp.Body.Close()
	if code, body := get("/providers"); !strings.Contains(body, `"running": true`) || strings.Contains(body, `"starting"`) {
		t.Errorf("/providers after the start = %d %s", code, body)
	}
}
