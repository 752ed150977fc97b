// Package hosttest holds helpers the tests and benchmarks of core and proxy share: a provider config
// with the loader's defaults, a static token source, the benchmarks' loopback server and transport, and
// a concurrent POST driver. Only test files import it.
package hosttest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// Provider returns a provider config named "p" with the defaults the loader would give, pointed at
// upstreamURL.
func Provider(upstreamURL string) *config.Provider {
	return &config.Provider{
		Name: "p", Plugin: "fake", Upstream: upstreamURL,
		RefreshBefore: config.DefaultRefreshBefore, RetryStatuses: []int{401}, MaxReplayBytes: 1 << 20,
		MinRefreshInterval:  config.DefaultMinRefreshInterval,
		MaxIdleConnsPerHost: config.DefaultMaxIdleConnsPerHost,
		Breaker:             config.Breaker{Failures: 3, OpenFor: time.Hour},
		FetchTimeout:        10 * time.Second, Options: map[string]any{},
	}
}

// StaticSource always hands out the same token, valid for an hour from each call.
type StaticSource struct{ Tok string }

// Configure implements sdk.Source.
func (s StaticSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "static"}, nil
}

// Token implements sdk.Source.
func (s StaticSource) Token(context.Context) (sdk.Token, error) {
	return sdk.Token{Value: s.Tok, Expiry: time.Now().Add(time.Hour)}, nil
}

// Refresh implements sdk.Source; it returns the same token.
func (s StaticSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// BenchServer is the loopback server every transport and proxy benchmark talks to: 200 and a small body
// for "Authorization: Bearer <want>" (any request when want is empty), 401 otherwise.
func BenchServer(b testing.TB, want string) *httptest.Server {
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

// BenchBase returns a fresh base transport that keeps enough idle connections for parallel benchmarks.
func BenchBase(b testing.TB) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.Cleanup(tr.CloseIdleConnections)
	return tr
}

// PostAll sends n POSTs at once (body(i) is the i-th body) and fails the test unless every one ends 200.
func PostAll(t testing.TB, c *http.Client, url string, n int, body func(i int) string) {
	t.Helper()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Post(url, "application/json", strings.NewReader(body(i)))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Fatalf("request %d ended %d", i, code)
		}
	}
}
