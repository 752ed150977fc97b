package proxy

import (
	"context"
	"io"
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

// BenchmarkProxy drives tokenhost's proxy and a bare httputil.ReverseProxy (Rewrite) that sets a static header
// with the same load generator against the same loopback upstream, and reports p50/p99 latency.
func BenchmarkProxy(b *testing.B) {
	const tok = "bench-token-0123456789"
	up := hosttest.BenchServer(b, tok)
	target, _ := url.Parse(up.URL)

	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", "Bearer "+tok)
		},
		Transport: hosttest.BenchBase(b),
	}
	bareSrv := httptest.NewServer(bare)
	b.Cleanup(bareSrv.Close)

	h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{testProvider(up.URL)}},
		Base: hosttest.BenchBase(b), Logger: newTestLogger(io.Discard), InProcess: map[string]sdk.Source{"p": hosttest.StaticSource{Tok: tok}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	thSrv := httptest.NewServer(Handler(h, Options{AccessLog: newTestLogger(io.Discard)}))
	b.Cleanup(thSrv.Close)

	for _, tc := range []struct{ name, url string }{
		{"bare-reverseproxy", bareSrv.URL + "/v1/chat/completions"},
		{"tokenhost", thSrv.URL + "/p/v1/chat/completions"},
	} {
		client := &http.Client{Transport: hosttest.BenchBase(b)}
		b.Run(tc.name, func(b *testing.B) {
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism(8) // 16 concurrent clients on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					resp, err := client.Get(tc.url)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
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
