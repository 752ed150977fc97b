package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// member is one loopback upstream of a group test: a handler that can be swapped, requests counted with
// the bodies and tokens they carried.
type member struct {
	name string
	srv  *httptest.Server
	src  *fakeSource
	n    atomic.Int64
	mu   sync.Mutex
	h    http.HandlerFunc
	got  []string // bodies received
	urls []string // request URIs received
	auth []string // Authorization headers received
}

func newMember(t *testing.T, name string) *member {
	m := &member{name: name, src: newFakeSource(0, nil)}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.n.Add(1)
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.got, m.urls, m.auth = append(m.got, string(b)), append(m.urls, r.URL.RequestURI()), append(m.auth, r.Header.Get("Authorization"))
		h := m.h
		m.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, `{"served_by":"`+name+`"}`)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *member) handle(h http.HandlerFunc) {
	m.mu.Lock()
	m.h = h
	m.mu.Unlock()
}

func (m *member) bodies() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}

// status answers every request with code and the given headers and body.
func status(code int, body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// newGroupHost opens a host with the members as in-process providers and the group gc over them.
func newGroupHost(t *testing.T, gc *config.Group, members ...*member) *Host {
	t.Helper()
	return newGroupHostWith(t, gc, nil, members...)
}

// newGroupHostWith is newGroupHost with edit applied to each member's provider configuration.
func newGroupHostWith(t *testing.T, gc *config.Group, edit func(*config.Provider), members ...*member) *Host {
	t.Helper()
	cfg := &config.Config{Source: "test", Groups: []*config.Group{gc}}
	in := map[string]sdk.Source{}
	for _, m := range members {
		pc := hosttest.Provider(m.srv.URL)
		pc.Name = m.name
		if edit != nil {
			edit(pc)
		}
		cfg.Providers = append(cfg.Providers, pc)
		in[m.name] = m.src
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	h, err := Open(context.Background(), Options{Config: cfg, Base: base, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InProcess: in})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func groupOf(name string, members ...string) *config.Group {
	g := &config.Group{Name: name, Strategy: config.StrategyPriority}
	for _, m := range members {
		g.Members = append(g.Members, config.GroupMember{Provider: m})
	}
	return g
}

func groupClient(t *testing.T, h *Host, name string) *http.Client {
	t.Helper()
	c, err := h.Client(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deadURL is a loopback address nothing listens on.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func TestGroupFailsOverAndReplaysTheBody(t *testing.T) {
	for _, c := range []struct {
		name   string
		first  http.HandlerFunc
		dead   bool
		noTok  error
		reason int
	}{
		{name: "429 Retry-After seconds", first: status(429, `{}`, "Retry-After", "30"), reason: reasonRateLimited},
		{name: "503", first: status(503, "busy"), reason: reasonServerError},
		{name: "500", first: status(500, "oops"), reason: reasonServerError},
		{name: "dead port", dead: true, reason: reasonUnreachable},
		{name: "reauth required", noTok: errReauth, reason: reasonNoToken},
		{name: "token unavailable", noTok: sdk.Unavailable("identity provider down"), reason: reasonNoToken},
		{name: "connection closed before the response", first: func(w http.ResponseWriter, _ *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, reason: reasonUnreachable},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := newMember(t, "a"), newMember(t, "b")
			a.handle(c.first)
			a.src.setFail(c.noTok)
			gc := groupOf("chat", "a", "b")
			cfg := []*member{a, b}
			h := newGroupHost(t, gc, cfg...)
			if c.dead {
				h.gen.Load().providers["a"].cfg.Upstream = deadURL(t)
			}
			resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/chat/completions", `{"model":"m","n":1}`)
			if got := readAll(t, resp); resp.StatusCode != 200 || got != `{"served_by":"b"}` {
				t.Fatalf("status %d body %s, want b's 200", resp.StatusCode, got)
			}
			if got := b.bodies(); len(got) != 1 || got[0] != `{"model":"m","n":1}` {
				t.Errorf("b received %q, want the body replayed once", got)
			}
			g := h.gen.Load().groups["chat"]
			if n := g.members[0].failovers[c.reason].Load(); n != 1 {
				t.Errorf("failovers of a for %s = %d, want 1", reasonNames[c.reason], n)
			}
			if l := g.last.Load(); l == nil || l.member != "b" {
				t.Errorf("last served %+v, want b", l)
			}
		})
	}
}

func TestGroupDoesNotFailOverOnOtherClientErrors(t *testing.T) {
	for _, code := range []int{400, 404, 422, 501} {
		a, b := newMember(t, "a"), newMember(t, "b")
		a.handle(status(code, `{"error":{"message":"bad"}}`))
		h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
		resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`)
		readAll(t, resp)
		if resp.StatusCode != code || b.n.Load() != 0 {
			t.Errorf("%d from a: caller got %d, b got %d requests; want a's answer and none to b", code, resp.StatusCode, b.n.Load())
		}
	}
}

func TestGroupCooledMemberIsSkippedThenCleared(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.handle(status(429, `{"error":{"message":"slow down"}}`, "Retry-After", "1"))
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	c := groupClient(t, h, "chat")
	readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`))
	readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`))
	if a.n.Load() != 1 || b.n.Load() != 2 {
		t.Fatalf("a got %d, b %d requests; want a once (then cooling) and b twice", a.n.Load(), b.n.Load())
	}
	if r, ok := h.cooldowns.Cooling("a", timeNow()); !ok || r.Source != "retry-after" {
		t.Fatalf("a's cooldown %+v %v, want one from retry-after", r, ok)
	}
	a.handle(nil)
	// The condition is the passing of a's one-second reset: a is tried again once it is over.
	for a.n.Load() == 1 {
		readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`))
		waitABit()
	}
	if _, ok := h.cooldowns.Cooling("a", timeNow()); ok {
		t.Error("a still cooling after a success")
	}
	if m := &h.gen.Load().groups["chat"].members[0]; m.cooling.Load() || m.limits.Load() != 0 {
		t.Error("a's success did not clear its limit state")
	}
}

func TestGroupAllCoolingAnswers429WithTheEarliestReset(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.handle(status(429, `{}`, "Retry-After", "300"))
	b.handle(status(429, `{}`, "Retry-After", "120"))
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	c := groupClient(t, h, "chat")
	for range 2 { // the first request meets both 429s, the second finds both cooling
		resp := post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`)
		body := readAll(t, resp)
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 429 || ra < 1 || ra > 120 || !strings.Contains(body, "all_members_limited") {
			t.Fatalf("status %d Retry-After %q body %s; want 429 with b's earlier reset (at most 120 s)", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if a.n.Load() != 1 || b.n.Load() != 1 {
		t.Errorf("a got %d, b %d requests; cooling members must not be asked again", a.n.Load(), b.n.Load())
	}
}

func TestGroupLastMembersAnswerPassesWhenNoneTakesIt(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.handle(status(503, "a down"))
	b.handle(status(502, "b down"))
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`)
	if body := readAll(t, resp); resp.StatusCode != 502 || body != "b down" {
		t.Errorf("got %d %q, want b's own 502", resp.StatusCode, body)
	}
	a2, b2 := newMember(t, "a"), newMember(t, "b")
	a2.src.setFail(errReauth)
	b2.src.setFail(sdk.Unavailable("idp down"))
	h2 := newGroupHost(t, groupOf("chat", "a", "b"), a2, b2)
	_, err := groupClient(t, h2, "chat").Get(GroupBaseURL("chat") + "/v1/x")
	var ge *GroupError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "provider a") || !strings.Contains(err.Error(), "provider b") || !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Errorf("error %v: want a GroupError naming both members and unwrapping to the last one's kind", err)
	}
}

func TestGroupStreamIsNotRetriedAfterItsFirstByte(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.handle(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"delta\":\"he\"}\n\n")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{"stream":true}`)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(got), "data: ") || err == nil {
		t.Errorf("status %d, body %q, err %v: want a's stream as it came, ending in an error", resp.StatusCode, got, err)
	}
	if b.n.Load() != 0 {
		t.Errorf("b got %d requests after a's stream had started", b.n.Load())
	}
}

func TestGroupPathAndQueryMapOntoTheMember(t *testing.T) {
	a := newMember(t, "a")
	gc := groupOf("chat", "a")
	h := newGroupHost(t, gc, a)
	h.gen.Load().providers["a"].cfg.Upstream = a.srv.URL + "/openai/?api-version=2024-10-21"
	resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/deployments/d%2F1/chat?x=1", `{}`)
	readAll(t, resp)
	if got := a.urls[0]; got != "/openai/deployments/d%2F1/chat?api-version=2024-10-21&x=1" {
		t.Errorf("member got %s", got)
	}
	if !strings.HasPrefix(a.auth[0], "Bearer tok-") {
		t.Errorf("member got Authorization %q, want its own token", a.auth[0])
	}
}

func TestGroupRefusesRequestsOffItsBaseURL(t *testing.T) {
	a := newMember(t, "a")
	h := newGroupHost(t, groupOf("chat", "a"), a)
	_, err := groupClient(t, h, "chat").Get(a.srv.URL + "/v1/x")
	if err == nil || !strings.Contains(err.Error(), "group chat") || a.n.Load() != 0 {
		t.Errorf("err %v, member requests %d: want a refusal before anything is sent", err, a.n.Load())
	}
}

func TestGroupModelMap(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.handle(status(503, ""))
	gc := groupOf("chat", "a", "b")
	gc.Members[1].ModelMap = map[string]string{"gpt-4o": "west-gpt4o"}
	h := newGroupHost(t, gc, a, b)
	in := `{"messages":[{"role":"user","model":"gpt-4o"}],  "model" :"gpt-4o" ,"x":"\u00e9"}`
	readAll(t, post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", in))
	if got := a.bodies(); len(got) != 1 || got[0] != in {
		t.Errorf("a (no model_map) got %q, want the body as sent", got)
	}
	want := `{"messages":[{"role":"user","model":"gpt-4o"}],  "model" :"west-gpt4o" ,"x":"\u00e9"}`
	if got := b.bodies(); len(got) != 1 || got[0] != want {
		t.Errorf("b got %q\nwant %q", got, want)
	}
}

func TestRenameModel(t *testing.T) {
	m := map[string]string{"a": "b\"c"}
	for in, want := range map[string]string{
		`{"model":"a"}`:                      `{"model":"b\"c"}`,
		` { "x":{"model":"a"}, "model":"a"}`: ` { "x":{"model":"a"}, "model":"b\"c"}`,
		`{"mod\u0065l":"a"}`:                 `{"mod\u0065l":"b\"c"}`,
		`{"model":"z"}`:                      `{"model":"z"}`,
		`{"model":1}`:                        `{"model":1}`,
		`["model","a"]`:                      `["model","a"]`,
		`{"model":`:                          `{"model":`,
		``:                                   ``,
	} {
		if got := string(renameModel([]byte(in), m)); got != want {
			t.Errorf("renameModel(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestGroupStrategies(t *testing.T) {
	t.Run("round_robin", func(t *testing.T) {
		ms := []*member{newMember(t, "a"), newMember(t, "b"), newMember(t, "c")}
		gc := groupOf("chat", "a", "b", "c")
		gc.Strategy = config.StrategyRoundRobin
		h := newGroupHost(t, gc, ms...)
		for range 6 {
			readAll(t, post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`))
		}
		for _, m := range ms {
			if m.n.Load() != 2 {
				t.Errorf("%s got %d of 6 requests, want 2", m.name, m.n.Load())
			}
		}
	})
	t.Run("least_recently_limited", func(t *testing.T) {
		ms := []*member{newMember(t, "a"), newMember(t, "b"), newMember(t, "c")}
		gc := groupOf("chat", "a", "b", "c")
		gc.Strategy = config.StrategyLeastRecentlyLimited
		h := newGroupHost(t, gc, ms...)
		g := h.gen.Load().groups["chat"]
		g.members[0].limitedAt.Store(200)
		g.members[1].limitedAt.Store(100)
		var buf [orderBuf]int
		if got := g.order(buf[:0], ""); len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 0 {
			t.Errorf("order %v, want never limited (c), then b, then a", got)
		}
		readAll(t, post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`))
		if ms[2].n.Load() != 1 {
			t.Error("c did not get the request")
		}
	})
	t.Run("affinity", func(t *testing.T) {
		ms := []*member{newMember(t, "a"), newMember(t, "b"), newMember(t, "c")}
		gc := groupOf("chat", "a", "b", "c")
		gc.Strategy, gc.AffinityHeader = config.StrategyRoundRobin, "Session_id"
		h := newGroupHost(t, gc, ms...)
		c := groupClient(t, h, "chat")
		send := func(session string) string {
			req, _ := http.NewRequest("POST", GroupBaseURL("chat")+"/v1/x", strings.NewReader(`{}`))
			req.Header.Set("session_id", session)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return readAll(t, resp)
		}
		first := send("s1")
		for range 4 {
			if got := send("s1"); got != first {
				t.Fatalf("session s1 moved from %s to %s", first, got)
			}
		}
		other := send("s2")
		if other == first {
			t.Errorf("a new session followed round_robin to %s, the member s1 keeps", other)
		}
	})
}

func TestGroupTokenIsTheFirstUsableMembers(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.src.setFail(errReauth)
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	tok, err := h.token(context.Background(), "chat")
	if err != nil || tok.Value != "tok-1" || b.src.calls() != 1 {
		t.Fatalf("token %q err %v; want b's", tok.Value, err)
	}
	b.src.setFail(sdk.Unavailable("idp down"))
	h2 := newGroupHost(t, groupOf("chat", "a"), a)
	_, err = h2.token(context.Background(), "chat")
	if err == nil || !strings.Contains(err.Error(), "group chat") || !strings.Contains(err.Error(), "provider a") {
		t.Errorf("error %v, want one naming the group and why a could not give a token", err)
	}
	if up, err := (&Provider{h: h, name: "chat"}).Upstream(context.Background()); err != nil || up != GroupBaseURL("chat") {
		t.Errorf("Upstream = %q %v, want the group's base URL", up, err)
	}
}

func timeNow() time.Time { return time.Now() }

// waitABit paces a loop that waits for time itself to pass (a cooldown's reset).
func waitABit() { time.Sleep(20 * time.Millisecond) }

func TestGroupCoolsA429ByEachResetForm(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		source string
		answer http.HandlerFunc
	}{
		{"retry-after", status(429, `{}`, "Retry-After", "45")},
		{"retry-after", status(429, `{}`, "Retry-After", date)},
		{"retry-after-ms", status(429, `{}`, "retry-after-ms", "45000")},
		{"x-ratelimit-reset-requests", status(429, `{}`, "x-ratelimit-reset-requests", "6m0s")},
		{"x-ratelimit-reset-tokens", status(429, `{}`, "x-ratelimit-reset-tokens", "1m30.5s")},
		{"usage_limit_reached", status(429, `{"error":{"type":"usage_limit_reached","message":"limit","resets_in_seconds":600}}`, "Content-Type", "application/json")},
		{"google.rpc.RetryInfo", status(429, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}`)},
		{"default", status(429, `{"error":{"message":"slow down"}}`)},
	} {
		a, b := newMember(t, "a"), newMember(t, "b")
		a.handle(c.answer)
		h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
		resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`)
		readAll(t, resp)
		r, ok := h.cooldowns.Cooling("a", time.Now())
		if resp.StatusCode != 200 || !ok || r.Source != c.source {
			t.Errorf("%s: status %d, a's cooldown %+v %v; want b's 200 and a cooling by %s", c.source, resp.StatusCode, r, ok, c.source)
		}
	}
}

func TestGroupSuccessInFlightBeforeA429DoesNotEndTheCooldown(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	a.handle(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
			io.WriteString(w, "late success")
			return
		}
		status(429, `{}`, "Retry-After", "300")(w, nil)
	})
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	c := groupClient(t, h, "chat")
	done := make(chan string)
	go func() { done <- readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`)) }()
	<-entered
	readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`)) // a answers 429: cooling
	close(release)
	if got := <-done; got != "late success" {
		t.Fatalf("the first request got %q", got)
	}
	if _, ok := h.cooldowns.Cooling("a", time.Now()); !ok {
		t.Error("a success sent before the 429 ended a's cooldown")
	}
}

func TestGroupReload(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	cfg := *h.Config()
	c := groupClient(t, h, "chat")
	readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`))
	before := h.gen.Load().groups["chat"]

	// wantGroups checks what a reload says happened to the groups: added, changed, removed, unchanged.
	wantGroups := func(step string, res Reloaded, want [4][]string) {
		t.Helper()
		if got := [4][]string{res.AddedGroups, res.ChangedGroups, res.RemovedGroups, res.UnchangedGroups}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: groups added, changed, removed, unchanged = %q, want %q", step, got, want)
		}
	}
	same := cfg
	res, err := h.Reload(&same)
	if err != nil {
		t.Fatal(err)
	}
	if h.gen.Load().groups["chat"] != before {
		t.Error("a reload that left the group unchanged rebuilt it")
	}
	wantGroups("same", res, [4][]string{nil, nil, nil, {"chat"}})
	changed := cfg
	changed.Groups = []*config.Group{groupOf("chat", "b", "a"), groupOf("solo", "a")}
	if res, err = h.Reload(&changed); err != nil {
		t.Fatal(err)
	}
	wantGroups("changed", res, [4][]string{{"solo"}, {"chat"}, nil, nil})
	readAll(t, post(t, c, GroupBaseURL("chat")+"/v1/x", `{}`))
	if a.n.Load() != 1 || b.n.Load() != 1 {
		t.Errorf("after the reload put b first: a got %d, b %d requests; want the handle to follow the new order", a.n.Load(), b.n.Load())
	}
	if _, err := h.Provider("chta"); err == nil || !strings.Contains(err.Error(), `did you mean "chat"?`) {
		t.Errorf("a misspelt group name: %v, want the group suggested", err)
	}
	removed := cfg
	removed.Groups = nil
	if res, err = h.Reload(&removed); err != nil {
		t.Fatal(err)
	}
	wantGroups("removed", res, [4][]string{nil, nil, {"chat", "solo"}, nil})
	if _, err := c.Get(GroupBaseURL("chat") + "/v1/x"); err == nil || !strings.Contains(err.Error(), "chat") {
		t.Errorf("a request through a removed group's handle: %v, want an error naming it", err)
	}
}

func TestGroupNeverSendsAMembersCredentialToAnother(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.src.headers = map[string]string{"X-Account": "acct-of-a"}
	a.handle(status(503, "down"))
	var seen http.Header
	b.handle(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		io.WriteString(w, "ok")
	})
	h := newGroupHostWith(t, groupOf("chat", "a", "b"), func(pc *config.Provider) {
		if pc.Name == "a" {
			pc.Header, pc.Scheme, pc.SchemeSet = "Api-Key", "", true
		}
	}, a, b)
	readAll(t, post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`))
	if seen == nil || seen.Get("Api-Key") != "" || seen.Get("X-Account") != "" || !strings.HasPrefix(seen.Get("Authorization"), "Bearer tok-") {
		t.Errorf("b received %v: want its own bearer and nothing of a's (Api-Key, X-Account)", seen)
	}
	if got := a.auth[0]; got != "" {
		t.Errorf("a received Authorization %q; its credential goes in Api-Key", got)
	}
}

func TestGroup429BodyWordsFailuresWithoutTheirErrors(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	a.handle(status(429, `{}`, "Retry-After", "300"))
	b.src.setFail(sdk.Unavailable("cannot read /home/someone/.config/corp/sign-in.json"))
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	resp := post(t, groupClient(t, h, "chat"), GroupBaseURL("chat")+"/v1/x", `{}`)
	body := readAll(t, resp)
	if resp.StatusCode != 429 || strings.Contains(body, "/home/someone") || !strings.Contains(body, "b: no token could be had") {
		t.Errorf("%d %s: want a 429 (a cools, b failed without an answer) that words b's failure without its error text", resp.StatusCode, body)
	}
}

func TestAddProviderRefusesAGroupsName(t *testing.T) {
	a := newMember(t, "a")
	h := newGroupHost(t, groupOf("chat", "a"), a)
	_, err := h.AddProvider("chat", map[string]any{"plugin": "./x", "upstream": "https://llm.example.com/v1"})
	if err == nil || !strings.Contains(err.Error(), "groups.chat") {
		t.Errorf("AddProvider with a group's name: %v, want a refusal naming the group", err)
	}
}
