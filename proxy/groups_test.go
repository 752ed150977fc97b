package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// newGroupProxy serves a proxy over a host with providers a and b (in process, over ua and ub) and the
// group chat: [a, b].
func newGroupProxy(t *testing.T, ua, ub *upstream, srcA, srcB *fakeSource) string {
	t.Helper()
	pa, pb := testProvider(ua.URL+"/v1"), testProvider(ub.URL+"/base")
	pa.Name, pb.Name = "a", "b"
	cfg := &config.Config{Source: "test", Providers: []*config.Provider{pa, pb},
		Groups: []*config.Group{{Name: "chat", Strategy: config.StrategyPriority, Members: []config.GroupMember{{Provider: "a"}, {Provider: "b"}}}}}
	h, err := core.Open(context.Background(), core.Options{Config: cfg, Logger: newTestLogger(io.Discard),
		InProcess: map[string]sdk.Source{"a": srcA, "b": srcB}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return proxyFor(t, h, Options{}).URL
}

func TestServeGroupFailsOverAndShowsIt(t *testing.T) {
	srcA, srcB := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	ua, ub := newUpstream(t, bearerValid(srcA)), newUpstream(t, bearerValid(srcB))
	ua.handler = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-ratelimit-reset-requests", "6m0s")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	var gotPath, gotBody string
	ub.handler = func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotBody = r.URL.Path, string(b)
		if !bearerValid(srcB)(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"served_by":"b"}`)
	}
	base := newGroupProxy(t, ua, ub, srcA, srcB)
	for i := range 2 {
		resp, err := http.Post(base+"/chat/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != `{"served_by":"b"}` {
			t.Fatalf("request %d: %d %s, want b's answer", i, resp.StatusCode, body)
		}
	}
	if ua.requests.Load() != 1 || gotPath != "/base/chat/completions" || gotBody != `{"model":"m"}` {
		t.Errorf("a got %d requests (want 1, then cooling); b got %s %q", ua.requests.Load(), gotPath, gotBody)
	}

	var list []map[string]any
	getJSON(t, base+"/providers", &list)
	var group map[string]any
	for _, e := range list {
		if e["kind"] == "group" && e["name"] == "chat" {
			group = e
		}
	}
	if group == nil || group["last_served"] != "b" {
		t.Fatalf("/providers has no group chat last served by b: %v", list)
	}
	a := group["members"].([]any)[0].(map[string]any)
	cd, _ := a["cooldown"].(map[string]any)
	if cd == nil || cd["source"] != "x-ratelimit-reset-requests" || a["failovers"].(map[string]any)["rate_limited"] != 1.0 || a["failovers"].(map[string]any)["cooling"] != 1.0 {
		t.Errorf("member a: %v; want a cooldown from x-ratelimit-reset-requests, one rate_limited and one cooling failover", a)
	}

	metrics := getText(t, base+"/metrics")
	for _, want := range []string{
		`tokenhost_group_failovers_total{group="chat",member="a",reason="rate_limited"} 1`,
		`tokenhost_group_served_total{group="chat",member="b"} 2`,
		`tokenhost_proxy_requests_total{code="200",provider="chat"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if page := getText(t, base+"/"); !strings.Contains(page, `id="g-chat"`) || !strings.Contains(page, "x-ratelimit-reset-requests") {
		t.Error("the status page shows no card for group chat with a's cooldown")
	}
	if page := getText(t, base+"/"); !strings.Contains(page, "2 provider(s), 1 group(s) ·") {
		t.Error("the status page's header does not count the group")
	}
	for _, s := range []string{"tok-1", "tok-2"} {
		if strings.Contains(metrics, s) {
			t.Errorf("/metrics shows a token")
		}
	}
}

func TestServeGroupAllCoolingIs429WithRetryAfter(t *testing.T) {
	srcA, srcB := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	ua, ub := newUpstream(t, bearerValid(srcA)), newUpstream(t, bearerValid(srcB))
	ua.handler = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "200")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	ub.handler = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"type":"usage_limit_reached","resets_in_seconds":50}}`)
	}
	base := newGroupProxy(t, ua, ub, srcA, srcB)
	for range 2 {
		resp, err := http.Post(base+"/chat/x", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 429 || ra < 1 || ra > 50 || !strings.Contains(string(body), "usage_limit_reached") {
			t.Errorf("%d Retry-After %q %s; want 429 with b's earlier reset", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if ua.requests.Load() != 1 || ub.requests.Load() != 1 {
		t.Errorf("a got %d, b %d requests; want one each, then both cooling", ua.requests.Load(), ub.requests.Load())
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestServeGroupStreamIsRetriedOnlyBeforeItsFirstByte(t *testing.T) {
	srcA, srcB := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	ua, ub := newUpstream(t, bearerValid(srcA)), newUpstream(t, bearerValid(srcB))
	ub.handler = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: from b\n\n")
	}
	base := newGroupProxy(t, ua, ub, srcA, srcB)
	stream := func() (int, string, error) {
		resp, err := http.Post(base+"/chat/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	ua.handler = func(w http.ResponseWriter, _ *http.Request) { // dies before its response starts
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
	if code, body, err := stream(); err != nil || code != 200 || body != "data: from b\n\n" {
		t.Fatalf("a died before its first byte: %d %q %v, want b's stream", code, body, err)
	}

	ua.mu.Lock()
	ua.handler = func(w http.ResponseWriter, _ *http.Request) { // dies after its first event
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: from a\n\n")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
	ua.mu.Unlock()
	before := ub.requests.Load()
	code, body, _ := stream()
	if code != 200 || !strings.HasPrefix(body, "data: from a") || strings.Contains(body, "from b") || ub.requests.Load() != before {
		t.Errorf("a died after its first event: %d %q, b asked %d more times; want a's partial stream and nothing sent to b", code, body, ub.requests.Load()-before)
	}
}

// A mistyped group name is answered with the groups among the names a route can take, and the closest.
func TestServeUnknownRouteNamesTheGroups(t *testing.T) {
	srcA, srcB := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	ua, ub := newUpstream(t, bearerValid(srcA)), newUpstream(t, bearerValid(srcB))
	base := newGroupProxy(t, ua, ub, srcA, srcB)
	resp, err := http.Get(base + "/chta/models")
	if err != nil {
		t.Fatal(err)
	}
	e := decodeError(t, resp)
	want := `no provider "chta" (did you mean "chat"?); configured: a, b, chat`
	if resp.StatusCode != http.StatusNotFound || e.Error.Code != "unknown_provider" || !strings.HasPrefix(e.Error.Message, want) {
		t.Errorf("got %d %+v, want 404 unknown_provider starting %q", resp.StatusCode, e.Error, want)
	}
}

// With every member's upstream down, the 502 names the group once and each member beside its error.
func TestServeGroupUnreachableNamesEachMember(t *testing.T) {
	srcA, srcB := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	ua, ub := newUpstream(t, bearerValid(srcA)), newUpstream(t, bearerValid(srcB))
	base := newGroupProxy(t, ua, ub, srcA, srcB)
	ua.Close()
	ub.Close()
	resp, err := http.Get(base + "/chat/models")
	if err != nil {
		t.Fatal(err)
	}
	e := decodeError(t, resp)
	msg := e.Error.Message
	if resp.StatusCode != http.StatusBadGateway || e.Error.Code != "upstream_unreachable" ||
		!strings.HasPrefix(msg, "group chat: no member could serve: provider a: ") || !strings.Contains(msg, "; provider b: ") {
		t.Errorf("got %d %s %q, want 502 upstream_unreachable naming group chat, then a and b", resp.StatusCode, e.Error.Code, msg)
	}
}
