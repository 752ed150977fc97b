package core

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// lineSignal is a log writer that closes ready when a line containing want arrives.
type lineSignal struct {
	want  string
	once  sync.Once
	ready chan struct{}
}

func (l *lineSignal) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.want) {
		l.once.Do(func() { close(l.ready) })
	}
	return len(p), nil
}

// reloadHost opens a host over in-process static sources for the named providers (all pointed at
// upstreamURL); sources exist for every name a later config may add.
func reloadHost(t *testing.T, upstreamURL string, logs *lineSignal, names ...string) *Host {
	t.Helper()
	srcs := map[string]sdk.Source{}
	for _, n := range []string{"a", "b", "c", "d"} {
		srcs[n] = hosttest.StaticSource{Tok: "tok-" + n}
	}
	h, err := Open(context.Background(), Options{Config: reloadConfig(upstreamURL, names...), InProcess: srcs,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func reloadConfig(upstreamURL string, names ...string) *config.Config {
	cfg := &config.Config{Source: "test", Server: config.Server{Listen: config.DefaultListen}}
	for _, n := range names {
		pc := hosttest.Provider(upstreamURL)
		pc.Name = n
		cfg.Providers = append(cfg.Providers, pc)
	}
	return cfg
}

func TestReloadKeepsUnchangedRebuildsChanged(t *testing.T) {
	up := newUpstream(t, func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") })
	h := reloadHost(t, up.URL, &lineSignal{ready: make(chan struct{})}, "a", "b", "d")
	ctx := context.Background()
	for _, n := range []string{"a", "b", "d"} {
		if _, err := h.token(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	oldA, oldB := h.gen.Load().providers["a"], h.gen.Load().providers["b"]
	startsA := oldA.proc.startCount()

	next := reloadConfig(up.URL, "a", "b", "c")
	next.Providers[1].RefreshBefore *= 2 // b changes
	next.Server.Listen = "127.0.0.1:9999"
	res, err := h.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != 2 || hostapi.Of(h).Generation() != 2 || !slices.Equal(res.Unchanged, []string{"a"}) || !slices.Equal(res.Changed, []string{"b"}) ||
		!slices.Equal(res.Added, []string{"c"}) || !slices.Equal(res.Removed, []string{"d"}) || !slices.Equal(res.RestartNeeded, []string{"server.listen"}) {
		t.Fatalf("reload result %+v", res)
	}
	if h.Config().Server.Listen != config.DefaultListen {
		t.Fatalf("server.listen applied without a restart: %s", h.Config().Server.Listen)
	}
	g := h.gen.Load()
	if g.providers["a"] != oldA || g.providers["b"] == oldB {
		t.Fatal("a must keep its provider (plugin, cache, breakers), b must get a new one")
	}
	if _, err := h.token(ctx, "d"); err == nil || !strings.Contains(err.Error(), `unknown provider "d"`) {
		t.Fatalf("removed provider: %v", err)
	}
	gens := map[string]int64{}
	for _, st := range h.Status() {
		gens[st.Name] = st.Generation
	}
	if gens["a"] != 1 || gens["b"] != 2 || gens["c"] != 2 || len(gens) != 3 {
		t.Fatalf("status generations %v", gens)
	}
	if _, err := h.token(ctx, "a"); err != nil || oldA.proc.startCount() != startsA || startsA != 1 {
		t.Fatalf("a's plugin was restarted: starts %d then %d (%v)", startsA, oldA.proc.startCount(), err)
	}
}

// A request that acquired a provider before a reload removed it finishes on it: its plugin is stopped
// only after Release.
func TestReloadDrainsHeldProvider(t *testing.T) {
	up := newUpstream(t, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer tok-b" })
	logs := &lineSignal{want: "provider stopped after a configuration reload", ready: make(chan struct{})}
	h := reloadHost(t, up.URL, logs, "a", "b")
	ref, err := hostapi.Of(h).Acquire("b")
	if err != nil {
		t.Fatal(err)
	}
	old := h.gen.Load().providers["b"]
	if _, err := h.Reload(reloadConfig(up.URL, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := hostapi.Of(h).Acquire("b"); err == nil {
		t.Fatal("a removed provider can still be acquired")
	}
	// The held provider still works, its plugin starting now, after the reload.
	ep, err := ref.Endpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, ep.Upstream.String()+"/x", nil)
	resp, err := ref.ForwardTransport().RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("held provider after reload: %v %v", resp, err)
	}
	resp.Body.Close()
	old.proc.mu.Lock()
	closed := old.proc.closed
	old.proc.mu.Unlock()
	if closed {
		t.Fatal("the plugin of a held provider was stopped before Release")
	}
	ref.Release()
	ref.Release() // a second Release does nothing
	<-logs.ready
	old.proc.mu.Lock()
	closed = old.proc.closed
	old.proc.mu.Unlock()
	if !closed {
		t.Fatal("the removed provider's plugin was not stopped after Release")
	}
}

func TestReloadRefusedLeavesConfig(t *testing.T) {
	h := reloadHost(t, "http://127.0.0.1:1", &lineSignal{ready: make(chan struct{})}, "a")
	if _, err := h.Reload(nil); err == nil {
		t.Fatal("nil config accepted")
	}
	bad := reloadConfig("http://127.0.0.1:1", "a", "b")
	bad.Providers[1].TLS.CAFile = "/nonexistent/ca.pem" // the upstream transport cannot be built
	if _, err := h.Reload(bad); err == nil || !strings.Contains(err.Error(), "running configuration stays") {
		t.Fatalf("bad reload: %v", err)
	}
	if hostapi.Of(h).Generation() != 1 || len(h.Config().Providers) != 1 {
		t.Fatalf("a refused reload changed the host: generation %d", hostapi.Of(h).Generation())
	}
	h.Close()
	if _, err := h.Reload(reloadConfig("http://127.0.0.1:1", "a")); err == nil {
		t.Fatal("reload after Close accepted")
	}
}

// Holders that entered before retire keep the gate open; once retired no one enters, and the idle
// channel closes exactly when the last holder leaves.
func TestUseGateRetire(t *testing.T) {
	var g useGate
	const n = 50
	for i := 0; i < n; i++ {
		if !g.acquire() {
			t.Fatal("acquire refused before retire")
		}
	}
	idle := g.retire()
	if g.acquire() {
		t.Fatal("acquire admitted after retire")
	}
	var wg sync.WaitGroup
	for i := 0; i < n-1; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); g.release() }()
	}
	wg.Wait()
	select {
	case <-idle:
		t.Fatal("idle before the last holder left")
	default:
	}
	g.release()
	<-idle
	var empty useGate
	<-empty.retire() // no holder: idle at once
}
