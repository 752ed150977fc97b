package core

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// failingBody is a caller's request body whose Read fails.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("the caller's body broke") }
func (failingBody) Close() error             { return nil }

// Failures the caller caused — its own expired deadline or cancellation, a malformed
// header, a body that fails to read — never count against the shared upstream breaker; the upstream's own
// failures (a refused connection) still do.
func TestCallerFailuresDoNotOpenUpstreamBreaker(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	pc := testProvider(up.URL)
	pc.MaxReplayBytes = 2 // the failing body is not buffered, the transport reads it
	h, p := newTestHost(t, src, pc, nil, nil)
	c, _ := h.Client("p")
	post(t, c, up.URL, `{}`).Body.Close()

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	callerFaults := map[string]func() *http.Request{
		"expired deadline": func() *http.Request {
			r, _ := http.NewRequestWithContext(expired, http.MethodGet, up.URL, nil)
			return r
		},
		"cancelled": func() *http.Request {
			r, _ := http.NewRequestWithContext(cancelled, http.MethodGet, up.URL, nil)
			return r
		},
		"malformed header": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, up.URL, nil)
			r.Header["X-Bad"] = []string{"a\r\nInjected: 1"}
			return r
		},
		"body fails to read": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, up.URL, io.NopCloser(failingBody{}))
			r.Body = failingBody{}
			return r
		},
	}
	for name, mk := range callerFaults {
		for i := range 2 * pc.Breaker.Failures {
			if _, err := c.Do(mk()); err == nil {
				t.Fatalf("%s #%d: no error", name, i)
			}
		}
		if st := p.breaker.State(); st != gobreaker.StateClosed {
			t.Fatalf("after %d requests with %s the shared breaker is %s, want closed", 2*pc.Breaker.Failures, name, st)
		}
		if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
			t.Fatalf("after %s: a good request got %d", name, resp.StatusCode)
		}
	}

	// The upstream's own failures still count: a refused connection, a TLS certificate that does not
	// verify, a connection closed before the response.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(untrusted.Close)
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}))
	t.Cleanup(hangup.Close)
	for name, url := range map[string]string{"refused connection": deadURL, "TLS failure": untrusted.URL, "hang-up": hangup.URL} {
		h2, p2 := newTestHost(t, src, testProvider(url), nil, nil)
		c2, _ := h2.Client("p")
		for range pc.Breaker.Failures {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if _, err := c2.Do(req); err == nil || strings.Contains(err.Error(), "circuit") {
				t.Fatalf("%s: err = %v, want the upstream's failure", name, err)
			}
		}
		if st := p2.breaker.State(); st != gobreaker.StateOpen {
			t.Fatalf("after %d × %s the breaker is %s, want open", pc.Breaker.Failures, name, st)
		}
	}
}
