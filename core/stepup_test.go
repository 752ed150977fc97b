package core

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// awareSource is a fakeSource that implements sdk.RejectionAware: it records every reason it is given and
// issues tokens carrying the scope a Bearer challenge asks for (as "<token>;scope=<scope>").
type awareSource struct {
	*fakeSource
	mu   sync.Mutex
	whys []sdk.Rejection
}

func (a *awareSource) RefreshRejected(ctx context.Context, _ sdk.Token, why sdk.Rejection) (sdk.Token, error) {
	a.mu.Lock()
	a.whys = append(a.whys, why)
	a.mu.Unlock()
	tok, err := a.issue(ctx)
	for _, c := range sdk.ParseChallenges(why.Challenge) {
		if s := c.Params["scope"]; s != "" && err == nil {
			a.fakeSource.mu.Lock()
			tok.Value += ";scope=" + s
			a.fakeSource.issued[tok.Value] = true
			a.fakeSource.mu.Unlock()
		}
	}
	return tok, err
}

func (a *awareSource) reasons() []sdk.Rejection {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]sdk.Rejection(nil), a.whys...)
}

// A 401's status and WWW-Authenticate challenge reach a RejectionAware plugin's refresh.
func TestRejectionReasonReachesRefresh(t *testing.T) {
	src := &awareSource{fakeSource: newFakeSource(time.Hour, time.Now)}
	valid := bearerValid(src.fakeSource)
	up := newUpstream(t, nil)
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		if !valid(r) {
			w.Header().Add("WWW-Authenticate", `Bearer realm="tools", error="invalid_token"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	if resp := post(t, c, up.URL, "{}"); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	src.revokeAll()
	resp := post(t, c, up.URL, `{"b":1}`)
	if body := readAll(t, resp); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("after revocation: %d %q, want 200 after one refresh", resp.StatusCode, body)
	}
	want := sdk.Rejection{Status: 401, Challenge: `Bearer realm="tools", error="invalid_token", Basic realm="x"`}
	if got := src.reasons(); len(got) != 1 || got[0] != want {
		t.Fatalf("the plugin's refresh was told %+v, want [%+v]", got, want)
	}
	if src.refreshes.Load() != 0 {
		t.Fatalf("plain Refresh called %d times for a RejectionAware plugin", src.refreshes.Load())
	}
}

// scopeUpstream answers 403 with an insufficient_scope challenge for scope "write" to every token
// that lacks it, 200 to one that carries it, and counts the POST bodies it accepted.
func scopeUpstream(t *testing.T, valid func(*http.Request) bool) *upstream {
	up := newUpstream(t, nil)
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		if !valid(r) || !strings.HasSuffix(r.Header.Get("Authorization"), ";scope=write") {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="write", resource_metadata="https://tools.example/.well-known/oauth-protected-resource"`)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, "ok")
	}
	return up
}

// A 403 whose Bearer challenge says insufficient_scope makes one refresh that is told the reason (shared
// by concurrent callers), and the request is resent with its body: the caller sees 200.
func TestInsufficientScopeStepsUp(t *testing.T) {
	src := &awareSource{fakeSource: newFakeSource(time.Hour, time.Now)}
	up := scopeUpstream(t, bearerValid(src.fakeSource))
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	if _, err := h.token(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			resp := post(t, c, up.URL, `{"call":"write"}`)
			if body := readAll(t, resp); resp.StatusCode != 200 || body != "ok" {
				t.Errorf("request %d: %d %q, want 200 after a step-up", i, resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	got := src.reasons()
	if len(got) != 1 || got[0].Status != 403 || !sdk.InsufficientScope(got[0].Challenge) || !strings.Contains(got[0].Challenge, `scope="write"`) {
		t.Fatalf("the plugin was asked %d times with %+v, want once with the 403 challenge", len(got), got)
	}
	up.mu.Lock()
	n := len(up.seen)
	up.mu.Unlock()
	if n > 40 {
		t.Fatalf("upstream saw %d requests for 20 calls, want at most 40", n)
	}
	if st := h.Status()[0]; st.LastRefreshReason != ReasonStepUp {
		t.Fatalf("last refresh reason = %q, want %q", st.LastRefreshReason, ReasonStepUp)
	}
}

// Any other 403 is the caller's answer: no refresh, no resend.
func TestOtherForbiddenIsNotRefreshed(t *testing.T) {
	for name, challenges := range map[string][]string{
		"no challenge":       nil,
		"invalid_token":      {`Bearer error="invalid_token"`},
		"another scheme":     {`Basic error="insufficient_scope"`},
		"quoted in a param":  {`Bearer realm="error=insufficient_scope"`},
		"unterminated quote": {`Bearer error="insufficient_scope`},
	} {
		t.Run(name, func(t *testing.T) {
			src := &awareSource{fakeSource: newFakeSource(time.Hour, time.Now)}
			up := newUpstream(t, nil)
			up.handler = func(w http.ResponseWriter, r *http.Request) {
				for _, c := range challenges {
					w.Header().Add("WWW-Authenticate", c)
				}
				w.WriteHeader(http.StatusForbidden)
			}
			h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
			c, _ := h.Client("p")
			if resp := post(t, c, up.URL, "{}"); resp.StatusCode != 403 {
				t.Fatalf("status %d, want the upstream's 403", resp.StatusCode)
			}
			if n := up.requests.Load(); n != 1 || len(src.reasons()) != 0 || src.refreshes.Load() != 0 {
				t.Fatalf("upstream saw %d requests, plugin refreshed %d+%d times; want 1, 0", n, len(src.reasons()), src.refreshes.Load())
			}
		})
	}
}

// A plugin without RejectionAware is refreshed with Refresh on an insufficient_scope 403, and an
// upstream that keeps answering it costs one refresh per min_refresh_interval, as a 401 does.
func TestInsufficientScopeWithAnOlderPlugin(t *testing.T) {
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	up := newUpstream(t, nil)
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-2" { // tok-1, the first token, lacks the scope
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="write"`)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, "ok")
	}
	h, _ := newTestHost(t, src, testProvider(up.URL), clk, nil)
	c, _ := h.Client("p")
	resp := post(t, c, up.URL, "{}")
	if body := readAll(t, resp); resp.StatusCode != 200 || src.refreshes.Load() != 1 {
		t.Fatalf("got %d %q after %d refreshes, want 200 after one Refresh", resp.StatusCode, body, src.refreshes.Load())
	}
	// From now on every token lacks the scope: the next 403 is refreshed once, then throttled.
	up.mu.Lock()
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="admin"`)
		w.WriteHeader(http.StatusForbidden)
	}
	up.mu.Unlock()
	before := src.refreshes.Load()
	for range 20 {
		if resp := post(t, c, up.URL, "{}"); resp.StatusCode != 403 {
			t.Fatalf("status %d, want the upstream's 403", resp.StatusCode)
		}
	}
	if got := src.refreshes.Load() - before; got < 1 || got > 2 {
		t.Fatalf("20 requests against an always-insufficient_scope upstream caused %d refreshes, want 1 or 2", got)
	}
}

// An explicit empty retry_statuses disables the step-up as it disables the 401 retry.
func TestEmptyRetryStatusesDisablesStepUp(t *testing.T) {
	src := &awareSource{fakeSource: newFakeSource(time.Hour, time.Now)}
	up := scopeUpstream(t, bearerValid(src.fakeSource))
	pc := testProvider(up.URL)
	pc.RetryStatuses = []int{}
	h, _ := newTestHost(t, src, pc, nil, nil)
	c, _ := h.Client("p")
	if resp := post(t, c, up.URL, "{}"); resp.StatusCode != 403 || len(src.reasons()) != 0 || up.requests.Load() != 1 {
		t.Fatalf("status %d after %d step-ups and %d upstream requests, want 403, 0, 1", resp.StatusCode, len(src.reasons()), up.requests.Load())
	}
}
