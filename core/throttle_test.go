package core

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// An upstream that rejects every token (wrong scope, missing entitlement) costs one
// refresh per min_refresh_interval, not one per request; callers get the upstream's own 401.
func TestAlways401RefreshIsThrottled(t *testing.T) {
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	up := newUpstream(t, func(*http.Request) bool { return false })
	logs := &logBuffer{}
	h, _ := newTestHost(t, src, testProvider(up.URL), clk, logs)
	c, _ := h.Client("p")
	check := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := post(t, c, up.URL, `{"i":1}`)
				if body := readAll(t, resp); resp.StatusCode != 401 || !strings.Contains(body, "invalid_api_key") {
					t.Errorf("request %d: got %d %q, want the upstream's own 401", i, resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
	}
	check(1) // the first rejection of the first token is refreshed, as always
	check(100)
	if got := src.refreshes.Load(); got > 2 {
		t.Fatalf("100 requests against an always-401 upstream caused %d refreshes, want at most 2", got)
	}
	if got := strings.Count(logs.String(), "not refreshing again"); got != 1 {
		t.Fatalf("the throttle was logged %d times, want once:\n%s", got, logs)
	}
	before := src.refreshes.Load()
	clk.advance(testProvider(up.URL).MinRefreshInterval + time.Second)
	check(100)
	if got := src.refreshes.Load() - before; got != 1 {
		t.Fatalf("after min_refresh_interval: %d more refreshes, want exactly 1", got)
	}
}

// A token revoked again is refreshed and the request recovers, whether the revocation comes after
// min_refresh_interval or within it: a token that worked (the upstream accepted it) is never throttled,
// so a key rotated twice in a minute recovers each time.
func TestThrottleStillRecoversFromRevocation(t *testing.T) {
	for name, gap := range map[string]time.Duration{
		"after min_refresh_interval":  testProvider("").MinRefreshInterval,
		"within min_refresh_interval": 0,
	} {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			src := newFakeSource(time.Hour, clk.now)
			up := newUpstream(t, bearerValid(src))
			h, _ := newTestHost(t, src, testProvider(up.URL), clk, nil)
			c, _ := h.Client("p")
			post(t, c, up.URL, `{}`).Body.Close()
			for i := range 3 {
				src.revokeAll()
				clk.advance(gap)
				if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
					t.Fatalf("revocation %d: status %d, want 200 after one refresh", i, resp.StatusCode)
				}
			}
			if got := src.refreshes.Load(); got != 3 {
				t.Fatalf("refreshes = %d, want 3 (one per revocation)", got)
			}
		})
	}
}
