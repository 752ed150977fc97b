package proxy

import (
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// splitRoute returns the provider and the rest of the path, leading slash included, as substrings; the
// rest of /<provider> alone is empty.
func TestSplitRoute(t *testing.T) {
	for _, c := range []struct{ path, name, rest string }{
		{"/p/v1/chat", "p", "/v1/chat"},
		{"/p/", "p", "/"},
		{"/p", "p", ""},
		{"/p/a%2Fb/", "p", "/a%2Fb/"},
		{"/", "", ""},
	} {
		if name, rest := splitRoute(c.path); name != c.name || rest != c.rest {
			t.Errorf("splitRoute(%q) = %q, %q; want %q, %q", c.path, name, rest, c.name, c.rest)
		}
	}
}

// The route table keeps one route per endpoint, starts afresh with a new configuration generation, and
// starts afresh rather than grow past maxRoutes (a plugin that keeps restarting resolves a new endpoint
// each time).
func TestRouteTableIsBoundedAndFollowsGenerations(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := Handler(h, Options{}).(*proxy)
	ref, err := hostapi.Of(h).Acquire("p")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Release()
	u, _ := url.Parse(up.URL)
	ep := &hostapi.Endpoint{Upstream: u, Header: "Authorization", Scheme: "Bearer"}
	if a, b := px.route("p", ref, ep), px.route("p", ref, ep); a != b {
		t.Fatal("the same endpoint got two routes")
	}
	first := px.routes.Load()
	for range maxRoutes + 1 {
		px.route("p", ref, &hostapi.Endpoint{Upstream: u, Header: "Authorization"})
	}
	if n := px.routes.Load().n.Load(); px.routes.Load() == first || n > maxRoutes {
		t.Fatalf("after %d endpoints the table holds %d routes (the first table kept: %v); want a fresh table of at most %d",
			maxRoutes+2, n, px.routes.Load() == first, maxRoutes)
	}
	before := px.routes.Load()
	if _, err := h.Reload(&config.Config{Source: "test", Providers: []*config.Provider{testProvider(up.URL)}}); err != nil {
		t.Fatal(err)
	}
	px.route("p", ref, ep)
	if now := px.routes.Load(); now == before || now.gen != hostapi.Of(h).Generation() {
		t.Fatal("a new configuration generation did not start a new route table")
	}
}

// A route's request counter for a status is made once and reused; statuses outside 100-599 still count.
func TestRouteCountersAreCachedPerStatus(t *testing.T) {
	rt := &route{name: "p", requests: newRequestCounter()}
	if rt.counter(200) != rt.counter(200) {
		t.Fatal("the counter for 200 was not cached")
	}
	for _, code := range []int{99, 600, 999} {
		rt.counter(code).Inc()
	}
	if n := testutil.CollectAndCount(rt.requests); n != 4 {
		t.Fatalf("%d series, want 4 (200, 99, 600, 999)", n)
	}
}
