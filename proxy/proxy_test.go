package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/hosttest"
)

func decodeError(t *testing.T, resp *http.Response) openAIError {
	t.Helper()
	defer resp.Body.Close()
	var e openAIError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not OpenAI-shaped JSON: %v", err)
	}
	if e.Error.Message == "" || e.Error.Code == "" || e.Error.Type == "" {
		t.Fatalf("error body %+v lacks message, type or code", e)
	}
	return e
}

func TestProxyForwardsPathQueryAndStripsInboundCredentials(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	var got *http.Request
	var mu sync.Mutex
	up := newUpstream(t, bearerValid(src))
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		mu.Unlock()
		io.WriteString(w, "ok")
	}
	h := newTestHost(t, src, testProvider(up.URL+"/v1"))
	px := proxyFor(t, h, Options{APIKeys: []string{"proxy-key-1"}})
	req, _ := http.NewRequest(http.MethodPost, px.URL+"/p/chat/completions?x=1&y=%2F", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer proxy-key-1")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "secret-hop")
	req.Header.Set("X-Forwarded-For", "10.9.9.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %v err %v", resp, err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if got.URL.Path != "/v1/chat/completions" || got.URL.RawQuery != "x=1&y=%2F" {
		t.Fatalf("upstream got %s?%s", got.URL.Path, got.URL.RawQuery)
	}
	if a := got.Header.Values("Authorization"); len(a) != 1 || a[0] == "Bearer proxy-key-1" || !strings.HasPrefix(a[0], "Bearer tok-") {
		t.Fatal("the proxy key reached the upstream, or the provider token did not")
	}
	if got.Header.Get("X-Hop") != "" || got.Header.Get("X-Forwarded-For") != "" {
		t.Fatalf("hop-by-hop or X-Forwarded-* headers reached the upstream: %v", got.Header)
	}
}

func TestProxyInboundKeys(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{APIKeys: []string{"k1", "k2"}})
	for name, hdr := range map[string]string{"missing": "", "wrong": "Bearer nope", "not bearer": "k1"} {
		req, _ := http.NewRequest(http.MethodGet, px.URL+"/p/models", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		e := decodeError(t, resp)
		if resp.StatusCode != 401 || e.Error.Code != "invalid_api_key" {
			t.Fatalf("%s key: status %d, want 401 invalid_api_key", name, resp.StatusCode)
		}
		// The next step names where the key is, for a server's clients and for a command under run.
		for _, want := range []string{"server.api_keys", "$OPENAI_API_KEY"} {
			if !strings.Contains(e.Error.Message, want) {
				t.Errorf("%s key: %q does not name %s", name, e.Error.Message, want)
			}
		}
	}
	if up.requests.Load() != 0 {
		t.Fatal("an unauthorised request reached the upstream")
	}
	req, _ := http.NewRequest(http.MethodGet, px.URL+"/p/models", nil)
	req.Header.Set("Authorization", "Bearer k2")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("second key: %v %v", resp, err)
	}
	// Health needs no key.
	if resp, err := http.Get(px.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}

func TestProxyErrorsAreOpenAIShaped(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})

	resp, _ := http.Get(px.URL + "/nosuch/chat/completions")
	if e := decodeError(t, resp); resp.StatusCode != 404 || e.Error.Code != "unknown_provider" || !strings.Contains(e.Error.Message, "p") {
		t.Fatalf("unknown provider: %d %+v", resp.StatusCode, e)
	}

	up.status.Store(503)
	for range 3 {
		r, _ := http.Get(px.URL + "/p/x")
		r.Body.Close()
	}
	resp, _ = http.Get(px.URL + "/p/x")
	e := decodeError(t, resp)
	if resp.StatusCode != 503 || e.Error.Code != "circuit_open" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("breaker open: %d %+v Retry-After=%q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
}

func TestProxyReauthRequiredIs401WithNextStep(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	src.setFail(fmt.Errorf("wrapped: %w", errReauth))
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})
	resp, _ := http.Get(px.URL + "/p/x")
	e := decodeError(t, resp)
	if resp.StatusCode != 401 || e.Error.Code != "reauth_required" || !strings.Contains(e.Error.Message, "fake login") {
		t.Fatalf("got %d %+v", resp.StatusCode, e)
	}
}

func TestProxyPluginThatCannotRestartIs502(t *testing.T) {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "cid", ClientSecret: "s3cret-value-xyz", ExpiresIn: time.Hour})
	t.Cleanup(idp.Close)
	var rejecting atomic.Bool
	up := newUpstream(t, func(*http.Request) bool { return !rejecting.Load() })
	// The plugin executable is a script that runs this test binary in plugin mode, so the test can
	// replace it with one that exits before the handshake.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "plugin")
	writeScript(t, exe, "exec "+self)
	pc := testProvider(up.URL)
	pc.Name, pc.Plugin = "corp", "gateway"
	pc.Options = map[string]any{"token_url": idp.TokenURL(), "client_id": "cid", "client_secret": "s3cret-value-xyz"}
	h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"},
		PluginExecutable: exe, Logger: newTestLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	px := proxyFor(t, h, Options{})
	if resp, err := http.Get(px.URL + "/corp/x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	// From now on the plugin binary "is gone": restarts exit before the handshake.
	writeScript(t, exe, "exit 1")
	pid := h.Status()[0].PID
	if pid == 0 {
		t.Fatal("the running plugin has no pid in Status")
	}
	_ = killPID(pid)
	rejecting.Store(true) // the upstream rejects the cached token, so the host needs the plugin again
	resp, err := http.Get(px.URL + "/corp/x")
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeError(t, resp); resp.StatusCode != 502 || e.Error.Code != "plugin_crashed" || !strings.Contains(e.Error.Message, "corp") {
		t.Fatalf("got %d %+v", resp.StatusCode, e)
	}
}

// writeScript replaces path with a shell script running body, atomically, as a new installed binary would.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestProxyStreamsChunkByChunk(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	next := make(chan struct{})
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: chunk-%d\n\n", i)
			w.(http.Flusher).Flush()
			<-next // the client must have read this chunk before the upstream writes the next
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})
	resp, err := http.Post(px.URL+"/p/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := rd.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: chunk-%d\n", i) {
			t.Fatalf("chunk %d: %q %v (a buffered proxy would deadlock here instead)", i, line, err)
		}
		rd.ReadString('\n')
		next <- struct{}{}
	}
	rest, _ := io.ReadAll(rd)
	if string(rest) != "data: [DONE]\n\n" {
		t.Fatalf("tail %q", rest)
	}
}

func TestProxyRevokedMidTrafficOneRefresh(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	if resp, err := client.Post(px.URL+"/p/x", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("warm-up: %v %v", resp, err)
	}
	src.revokeAll()
	before := src.refreshes.Load()
	hosttest.PostAll(t, client, px.URL+"/p/x", 200, func(i int) string { return fmt.Sprintf(`{"i":%d}`, i) })
	if got := src.refreshes.Load() - before; got != 1 {
		t.Fatalf("refreshes = %d, want 1", got)
	}
}

func TestProxyMetricsParseAndMove(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})
	scrape := func() map[string]float64 {
		resp, err := http.Get(px.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("metrics do not parse: %v", err)
		}
		out := map[string]float64{}
		for name, mf := range families {
			for _, m := range mf.GetMetric() {
				key := name
				for _, l := range m.GetLabel() {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				switch {
				case m.Counter != nil:
					out[key] = m.GetCounter().GetValue()
				case m.Gauge != nil:
					out[key] = m.GetGauge().GetValue()
				case m.Histogram != nil:
					out[key] = float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return out
	}
	r, _ := http.Get(px.URL + "/p/x")
	r.Body.Close()
	before := scrape()
	src.revokeAll()
	r, _ = http.Get(px.URL + "/p/x")
	r.Body.Close()
	after := scrape()
	for _, k := range []string{
		"tokenhost_proxy_requests_total,code=200,provider=p",
		"tokenhost_retries_total,provider=p",
		"tokenhost_upstream_rejections_total,provider=p",
		"tokenhost_refreshes_total,provider=p,result=ok",
		"tokenhost_token_fetch_seconds,provider=p,result=ok",
	} {
		if after[k] != before[k]+1 {
			t.Errorf("%s went %v → %v, want +1", k, before[k], after[k])
		}
	}
	if _, ok := after["tokenhost_breaker_state,breaker=upstream,provider=p"]; !ok {
		t.Error("no breaker state gauge")
	}
	body, _ := http.Get(px.URL + "/metrics")
	text, _ := io.ReadAll(body.Body)
	if strings.Contains(string(text), "tok-") {
		t.Fatal("a token value appears in /metrics")
	}
}

func TestProxyProvidersAndReadyz(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{Eager: true})
	if resp, _ := http.Get(px.URL + "/readyz"); resp.StatusCode != 503 {
		t.Fatalf("readyz before any token: %d, want 503", resp.StatusCode)
	}
	if p, err := h.Provider("p"); err != nil {
		t.Fatal(err)
	} else if _, err := p.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, _ := http.Get(px.URL + "/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz with a token: %d, want 200", resp.StatusCode)
	}
	resp, _ := http.Get(px.URL + "/providers")
	body, _ := io.ReadAll(resp.Body)
	var ps []providerJSON
	if err := json.Unmarshal(body, &ps); err != nil || len(ps) != 1 || ps[0].Name != "p" || !ps[0].HasToken || ps[0].TokenExpiry == nil {
		t.Fatalf("/providers = %s (%v)", body, err)
	}
	if strings.Contains(string(body), "tok-") {
		t.Fatal("/providers exposes a token")
	}
}

// An upstream that carries its own query (Azure's classic api-version) keeps it, joined with the caller's.
func TestProxyJoinsUpstreamQuery(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	var mu sync.Mutex
	var query string
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		query = r.URL.RawQuery
		mu.Unlock()
		io.WriteString(w, "ok")
	}
	h := newTestHost(t, src, testProvider(up.URL+"/openai/deployments/d?api-version=2024-10-21"))
	px := proxyFor(t, h, Options{})
	resp, err := http.Get(px.URL + "/p/chat/completions?stream=true")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if query != "api-version=2024-10-21&stream=true" {
		t.Fatalf("upstream query %q", query)
	}
}
