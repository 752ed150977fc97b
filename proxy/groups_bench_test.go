package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// groupContenders serves one proxy (access log off) over provider p and group g: [p], and returns the
// URLs of the same request to the member and to the group.
func groupContenders(tb testing.TB) (member, group string) {
	const tok = "bench-token-0123456789"
	up := hosttest.BenchServer(tb, tok)
	cfg := &config.Config{Providers: []*config.Provider{testProvider(up.URL + "/v1")},
		Groups: []*config.Group{{Name: "g", Strategy: config.StrategyPriority, Members: []config.GroupMember{{Provider: "p"}}}}}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := core.Open(context.Background(), core.Options{Config: cfg, Base: hosttest.BenchBase(tb), Logger: log,
		InProcess: map[string]sdk.Source{"p": hosttest.StaticSource{Tok: tok}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(Handler(h, Options{AccessLog: log}))
	tb.Cleanup(srv.Close)
	return srv.URL + "/p/chat/completions", srv.URL + "/g/chat/completions"
}

// BenchmarkProxyGroup compares a request through `serve` to a group whose first member takes it with the
// same request to the member's own route.
func BenchmarkProxyGroup(b *testing.B) {
	member, group := groupContenders(b)
	client := &http.Client{Transport: hosttest.BenchBase(b)}
	for _, tc := range []struct{ name, url string }{{"member", member}, {"group", group}} {
		getOK(b, client, tc.url)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				getOK(b, client, tc.url)
			}
		})
	}
}
