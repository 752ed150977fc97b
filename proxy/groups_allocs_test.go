package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// A request through `serve` to a group whose first member takes it allocates no more than the same
// request to the member's own route: the group addresses the proxy's outbound request to the member in
// place and the member sets its credential in it. Counted over the whole process (client, proxy and
// upstream on real loopback sockets, the same for both).
func TestServeGroupAllocatesNoMoreThanItsMember(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	member, group := groupContenders(t)
	allocs := map[string]float64{}
	for _, c := range []struct{ name, url string }{{"member", member}, {"group", group}} {
		client := &http.Client{Transport: hosttest.BenchBase(t)}
		for range 20 { // connections, the token and the routes in place
			getOK(t, client, c.url)
		}
		allocs[c.name] = testing.AllocsPerRun(500, func() { getOK(t, client, c.url) })
	}
	if allocs["group"] > allocs["member"] {
		t.Fatalf("a request allocates %v through the group and %v through its member's route; want no more (profile with go test -bench BenchmarkProxyGroup -memprofile)", allocs["group"], allocs["member"])
	}
}

// When the first member, its credential set in the proxy's outbound request itself, answers 429, the
// next member gets the caller's headers as they were: none of the first member's credential, and the
// caller's own value of the header that credential went in.
func TestServeGroupFailoverCarriesNothingOfTheFirstMember(t *testing.T) {
	srcA, srcB := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	ua, ub := newUpstream(t, func(*http.Request) bool { return true }), newUpstream(t, bearerValid(srcB))
	var aKey string
	ua.handler = func(w http.ResponseWriter, r *http.Request) {
		aKey = r.Header.Get("Api-Key")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	var seen http.Header
	ub.handler = func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		io.WriteString(w, "ok")
	}
	pa, pb := testProvider(ua.URL+"/v1"), testProvider(ub.URL+"/base")
	pa.Name, pb.Name = "a", "b"
	pa.Header, pa.Scheme, pa.SchemeSet = "Api-Key", "", true
	cfg := &config.Config{Source: "test", Providers: []*config.Provider{pa, pb},
		Groups: []*config.Group{{Name: "chat", Strategy: config.StrategyPriority, Members: []config.GroupMember{{Provider: "a"}, {Provider: "b"}}}}}
	h, err := core.Open(context.Background(), core.Options{Config: cfg, Logger: newTestLogger(io.Discard),
		InProcess: map[string]sdk.Source{"a": srcA, "b": srcB}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	base := proxyFor(t, h, Options{}).URL

	req, _ := http.NewRequest(http.MethodPost, base+"/chat/chat/completions", strings.NewReader(`{"model":"m"}`))
	req.Header.Set("Api-Key", "the-callers-own")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("got %d %s, want b's answer", resp.StatusCode, body)
	}
	if !strings.HasPrefix(aKey, "tok-") {
		t.Fatalf("a received Api-Key %q, want its token", aKey)
	}
	if seen.Get("Api-Key") != "the-callers-own" || !bearerValid(srcB)(&http.Request{Header: seen}) {
		t.Errorf("b received Api-Key %q and Authorization valid=%v; want the caller's own Api-Key and b's bearer",
			seen.Get("Api-Key"), bearerValid(srcB)(&http.Request{Header: seen}))
	}
}
