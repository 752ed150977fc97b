package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// contender is one proxy in front of the benchmarks' loopback upstream: the URL a client GETs.
type contender struct{ name, url string }

// proxyContenders starts the benchmarks' loopback upstream and, each on its own loopback server with a
// pooled transport, a bare httputil.ReverseProxy (Rewrite) that sets a static header, tokenhost's proxy
// with a cached token and its access log off (as `serve --log-level warn`), and the same with the access
// log on (info, written to nowhere).
func proxyContenders(tb testing.TB) []contender {
	const tok = "bench-token-0123456789"
	up := hosttest.BenchServer(tb, tok)
	target, _ := url.Parse(up.URL)

	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", "Bearer "+tok)
		},
		Transport: hosttest.BenchBase(tb),
	}
	bareSrv := httptest.NewServer(bare)
	tb.Cleanup(bareSrv.Close)
	out := []contender{{"bare-reverseproxy", bareSrv.URL + "/v1/chat/completions"}}

	for _, c := range []struct {
		name  string
		level slog.Level
	}{{"tokenhost", slog.LevelWarn}, {"tokenhost-accesslog", slog.LevelInfo}} {
		log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: c.level}))
		h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{testProvider(up.URL)}},
			Base: hosttest.BenchBase(tb), Logger: log, InProcess: map[string]sdk.Source{"p": hosttest.StaticSource{Tok: tok}}})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { h.Close() })
		srv := httptest.NewServer(Handler(h, Options{AccessLog: log}))
		tb.Cleanup(srv.Close)
		out = append(out, contender{c.name, srv.URL + "/p/v1/chat/completions"})
	}
	return out
}

// getOK sends one GET through c and fails unless it ends 200.
func getOK(tb testing.TB, c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		tb.Error(err)
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Errorf("%s: status %d", url, resp.StatusCode)
		return false
	}
	return true
}

// BenchmarkProxy drives tokenhost's proxy and a bare httputil.ReverseProxy with the same load generator
// against the same loopback upstream, and reports p50/p99 latency.
func BenchmarkProxy(b *testing.B) {
	for _, tc := range proxyContenders(b) {
		client := &http.Client{Transport: hosttest.BenchBase(b)}
		b.Run(tc.name, func(b *testing.B) {
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism(8) // 16 concurrent clients on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					if !getOK(b, client, tc.url) {
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			})
			if len(all) > 0 {
				slices.Sort(all)
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}
