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
	"github.com/tokenhost/tokenhost/sdk"
)

// BenchmarkProxy drives tokenhost's proxy and a bare httputil.ReverseProxy (Rewrite) that sets a static header
// with the same load generator against the same loopback upstream, and reports p50/p99 latency.
func BenchmarkProxy(b *testing.B) {
	const tok = "bench-token-0123456789"
	up := benchServer(b, tok)
	target, _ := url.Parse(up.URL)

	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", "Bearer "+tok)
		},
		Transport: benchBase(b),
	}
	bareSrv := httptest.NewServer(bare)
	b.Cleanup(bareSrv.Close)

	h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{testProvider(up.URL)}},
		Base: benchBase(b), Logger: newTestLogger(io.Discard), InProcess: map[string]sdk.Source{"p": staticSource{tok}}})
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
		client := &http.Client{Transport: benchBase(b)}
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

// benchServer is the loopback upstream: 200 and a small body for the expected bearer.
func benchServer(b *testing.B, want string) *httptest.Server {
	body := []byte(`{"id":"x","object":"chat.completion","choices":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want != "" && r.Header.Get("Authorization") != "Bearer "+want {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchBase(b *testing.B) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.Cleanup(tr.CloseIdleConnections)
	return tr
}

// staticSource always hands out the same token.
type staticSource struct{ tok string }

func (s staticSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "static"}, nil
}
func (s staticSource) Token(context.Context) (sdk.Token, error) {
	return sdk.Token{Value: s.tok, Expiry: time.Now().Add(time.Hour)}, nil
}
func (s staticSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}
