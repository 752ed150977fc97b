package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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
