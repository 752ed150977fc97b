package core

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

type oauthStatic struct{ tok string }

func (s oauthStatic) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: s.tok, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// bareTransport sets a static header on each request itself, as a caller with an API key would.
type bareTransport struct {
	base http.RoundTripper
	hdr  string
}

func (t bareTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", t.hdr)
	return t.base.RoundTrip(r)
}

// transports returns the three contenders, each over its own base transport to the same server.
func transports(b *testing.B) (string, []struct {
	name string
	rt   http.RoundTripper
}) {
	const tok = "bench-token-0123456789"
	srv := hosttest.BenchServer(b, tok)
	h, _ := newBenchHost(b, hosttest.StaticSource{Tok: tok}, srv.URL)
	th, _ := h.transportOf("p")
	return srv.URL, []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", bareTransport{base: hosttest.BenchBase(b), hdr: "Bearer " + tok}},
		{"x-oauth2", &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, oauthStatic{tok}), Base: hosttest.BenchBase(b)}},
		{"tokenhost", th},
	}
}

func newBenchHost(b *testing.B, src sdk.Source, upstreamURL string) (*Host, *provider) {
	pc := testProvider(upstreamURL)
	base := hosttest.BenchBase(b)
	h, err := Open(context.Background(), Options{Config: &config.Config{Providers: []*config.Provider{pc}}, Base: base, Logger: newTestLogger(io.Discard),
		InProcess: map[string]sdk.Source{"p": src}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	p := h.gen.Load().providers["p"]
	return h, p
}

func doGet(b *testing.B, c *http.Client, url string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkTransport compares one request through a bare transport with a static header, x/oauth2's
// Transport with a ReuseTokenSource, and tokenhost's wrapper, against the same loopback server.
func BenchmarkTransport(b *testing.B) {
	url, ts := transports(b)
	for _, tc := range ts {
		c := &http.Client{Transport: tc.rt}
		doGet(b, c, url) // warm the token cache and a connection
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doGet(b, c, url)
			}
		})
	}
}

// BenchmarkTransportParallel is BenchmarkTransport from every P at once: contention on the hot path
// would show as tokenhost falling behind bare as parallelism grows.
func BenchmarkTransportParallel(b *testing.B) {
	url, ts := transports(b)
	for _, tc := range ts {
		c := &http.Client{Transport: tc.rt}
		doGet(b, c, url)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					doGet(b, c, url)
				}
			})
		})
	}
}

// BenchmarkHotPathOnly measures each contender's own work per request (token lookup and header
// injection) over a base transport that answers at once, so the network does not drown it.
func BenchmarkHotPathOnly(b *testing.B) {
	const tok = "bench-token-0123456789"
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	instant := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	h, p := newBenchHost(b, hosttest.StaticSource{Tok: tok}, "https://api.example.com")
	if _, err := h.token(context.Background(), "p"); err != nil {
		b.Fatal(err)
	}
	p.base = instant
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", bareTransport{base: instant, hdr: "Bearer " + tok}},
		{"x-oauth2", &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, oauthStatic{tok}), Base: instant}},
		{"tokenhost", p.newTransport(instant)},
	} {
		b.Run(tc.name+"/serial", func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/x", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/x", nil)
				for pb.Next() {
					if _, err := tc.rt.RoundTrip(req); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// realGateway opens a host with the gateway plugin as a child process against a loopback identity
// provider, and an upstream that accepts that provider's live tokens.
func realGateway(b *testing.B) (*Host, *fakes.OAuthServer, *fakes.Upstream) {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "cid", ClientSecret: "bench-secret", ExpiresIn: time.Hour})
	b.Cleanup(idp.Close)
	up := fakes.NewUpstream(idp.Valid)
	b.Cleanup(up.Close)
	pc := testProvider(up.URL())
	pc.Name, pc.Plugin = "corp", "gateway"
	pc.Options = map[string]any{"token_url": idp.TokenURL(), "client_id": "cid", "client_secret": "bench-secret"}
	h, err := Open(context.Background(), Options{Config: &config.Config{Providers: []*config.Provider{pc}}, Base: hosttest.BenchBase(b), Logger: newTestLogger(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h, idp, up
}

// BenchmarkPluginColdStart measures starting the gateway plugin process: exec, handshake over mutual TLS,
// Configure. It reports the median too, since process starts have a long tail.
func BenchmarkPluginColdStart(b *testing.B) {
	var samples []time.Duration
	for b.Loop() {
		b.StopTimer()
		h, _, _ := realGateway(b)
		p := h.gen.Load().providers["corp"]
		b.StartTimer()
		start := time.Now()
		if _, err := p.start(context.Background()); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		b.StopTimer()
		h.Close()
		b.StartTimer()
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkPluginTokenRoundTrip measures one Token call host→plugin over gRPC with the token cached
// inside the plugin (the host's own cache bypassed).
func BenchmarkPluginTokenRoundTrip(b *testing.B) {
	h, _, _ := realGateway(b)
	p := h.gen.Load().providers["corp"]
	ctx := context.Background()
	if _, err := h.token(ctx, "corp"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.proc.call(ctx, func(s sdk.Source) error { _, err := s.Token(ctx); return err }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rssKiB("self"))/1024, "host-rss-MiB")
	b.ReportMetric(float64(rssKiB(strconv.Itoa(p.proc.pid())))/1024, "plugin-rss-MiB")
}

// rssKiB reads VmRSS of a process from /proc, or 0.
func rssKiB(pid string) int {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// BenchmarkRejectedRequest measures the one request that meets a revoked token: 401, Refresh through the
// plugin process to the identity provider, resend. Compare with the accepted sub-benchmark.
func BenchmarkRejectedRequest(b *testing.B) {
	h, idp, up := realGateway(b)
	c, _ := h.Client("corp")
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	send := func() {
		resp, err := c.Post(up.URL()+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	send()
	b.Run("accepted", func(b *testing.B) {
		for b.Loop() {
			send()
		}
	})
	b.Run("rejected-refresh-resend", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			idp.RevokeAll()
			b.StartTimer()
			send()
		}
	})
}

// BenchmarkRefreshStorm measures 1,000 concurrent requests that all meet a revoked token: one refresh
// serves them all. It reports refreshes per storm, which must be 1.
func BenchmarkRefreshStorm(b *testing.B) {
	h, idp, up := realGateway(b)
	c, _ := h.Client("corp")
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	send := func() int {
		resp, err := c.Post(up.URL()+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			return -1
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	send()
	issuedBefore := idp.Issued()
	storms := 0
	for b.Loop() {
		b.StopTimer()
		idp.RevokeAll()
		storms++
		b.StartTimer()
		var wg sync.WaitGroup
		for range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s := send(); s != 200 {
					b.Errorf("status %d", s)
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(idp.Issued()-issuedBefore)/float64(storms), "refreshes/storm")
}
