package core

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// groupBenchHost opens a host with provider p (a static token) over base and group g: [p].
func groupBenchHost(b testing.TB, base http.RoundTripper, upstreamURL string) *Host {
	pc := testProvider(upstreamURL)
	cfg := &config.Config{Providers: []*config.Provider{pc}, Groups: []*config.Group{{Name: "g", Strategy: config.StrategyPriority, Members: []config.GroupMember{{Provider: "p"}}}}}
	h, err := Open(context.Background(), Options{Config: cfg, Base: base, Logger: newTestLogger(nopWriter{}),
		InProcess: map[string]sdk.Source{"p": hosttest.StaticSource{Tok: "bench-token-0123456789"}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkGroup compares one request through a group whose first member takes it with the same request
// to the member directly, against the benchmarks' loopback server ("loopback") and over a base transport
// that answers at once ("hotpath", the routers' own work alone).
func BenchmarkGroup(b *testing.B) {
	srv := hosttest.BenchServer(b, "bench-token-0123456789")
	h := groupBenchHost(b, hosttest.BenchBase(b), srv.URL)
	for _, tc := range []struct{ name, handle, url string }{
		{"loopback/member", "p", srv.URL + "/v1/chat/completions"},
		{"loopback/group", "g", GroupBaseURL("g") + "/v1/chat/completions"},
	} {
		c, _ := h.Client(tc.handle)
		doGet(b, c, tc.url)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doGet(b, c, tc.url)
			}
		})
	}
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	instant := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	hot := groupBenchHost(b, instant, "https://api.example.com")
	for _, tc := range []struct{ name, handle, url string }{
		{"hotpath/member", "p", "https://api.example.com/v1/chat/completions"},
		{"hotpath/group", "g", GroupBaseURL("g") + "/v1/chat/completions"},
	} {
		p, _ := hot.Provider(tc.handle)
		rt := p.Transport()
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		if _, err := rt.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
