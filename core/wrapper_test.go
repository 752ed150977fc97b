package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// 1. A request whose cached token is valid calls no plugin and takes no lock of the supervisor.
func TestHotPathCallsNoPluginAndTakesNoSupervisorLock(t *testing.T) {
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	up := newUpstream(t, bearerValid(src))
	h, p := newTestHost(t, src, testProvider(up.URL), clk, nil)
	c, _ := h.Client("p")
	if resp := post(t, c, up.URL+"/v1/x", `{}`); resp.StatusCode != 200 {
		t.Fatalf("warm-up status %d", resp.StatusCode)
	}
	// With the supervisor's mutex held, a request that needed the plugin would block forever.
	p.proc.mu.Lock()
	defer p.proc.mu.Unlock()
	for i := range 100 {
		if resp := post(t, c, up.URL+"/v1/x", fmt.Sprintf(`{"i":%d}`, i)); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if got := src.calls(); got != 1 {
		t.Fatalf("plugin calls = %d, want 1 (the warm-up)", got)
	}
}

// 2. Inside refresh_before the old token is served while exactly one background refresh runs.
func TestRefreshAheadServesOldTokenWithOneBackgroundRefresh(t *testing.T) {
	clk := newClock()
	src := newFakeSource(10*time.Minute, clk.now)
	up := newUpstream(t, bearerValid(src))
	h, p := newTestHost(t, src, testProvider(up.URL), clk, nil)
	c, _ := h.Client("p")
	post(t, c, up.URL, `{}`).Body.Close()
	old := p.cache.cur.Load()

	hold := make(chan struct{})
	src.setHold(hold)
	clk.advance(6 * time.Minute) // 4m left, inside the 5m window
	for range 50 {
		if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := up.lastHeader().Get("Authorization"); got != "Bearer "+old.tok.Value {
			t.Fatal("a request inside the refresh window did not carry the cached token")
		}
	}
	<-src.entered // the one background refresh reached the plugin and is held
	close(hold)
	fresh, err := p.cache.renew(context.Background(), old) // joins the flight or finds its result
	if err != nil {
		t.Fatal(err)
	}
	if fresh.tok.Value == old.tok.Value {
		t.Fatal("background refresh did not replace the token")
	}
	if got := src.refreshes.Load(); got != 1 {
		t.Fatalf("refreshes = %d, want exactly 1", got)
	}
}

// 2b. A failing background refresh does not fail requests while the old token is valid.
func TestFailingBackgroundRefreshKeepsServingOldToken(t *testing.T) {
	clk := newClock()
	src := newFakeSource(10*time.Minute, clk.now)
	up := newUpstream(t, bearerValid(src))
	h, p := newTestHost(t, src, testProvider(up.URL), clk, nil)
	c, _ := h.Client("p")
	post(t, c, up.URL, `{}`).Body.Close()
	old := p.cache.cur.Load()
	src.setFail(sdk.Unavailable("identity provider is down"))
	clk.advance(6 * time.Minute)
	if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Wait for the background refresh to finish: it joins the same flight key.
	if _, err := p.cache.renew(context.Background(), old); err == nil {
		// The flight may have finished before renew joined it; then renew ran its own and also failed.
		t.Fatal("renew succeeded while the source fails")
	}
	for range 20 {
		if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
			t.Fatalf("status %d while the old token is still valid", resp.StatusCode)
		}
	}
	if p.cache.cur.Load() != old {
		t.Fatal("cache lost the still-valid token")
	}
	if p.stats.refreshFailures.Load() == 0 {
		t.Fatal("the failed refresh was not counted")
	}
}

// 3. With nothing cached (or an expired token), concurrent callers share one fetch.
func TestConcurrentCallersShareOneFetch(t *testing.T) {
	for _, expired := range []bool{false, true} {
		t.Run(fmt.Sprintf("expired=%v", expired), func(t *testing.T) {
			clk := newClock()
			src := newFakeSource(10*time.Minute, clk.now)
			h, _ := newTestHost(t, src, testProvider("https://api.example.com"), clk, nil)
			if expired {
				if _, err := h.token(context.Background(), "p"); err != nil {
					t.Fatal(err)
				}
				clk.advance(11 * time.Minute)
			}
			before := src.calls()
			var wg sync.WaitGroup
			tokens := make([]string, 200)
			for i := range tokens {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok, err := h.token(context.Background(), "p")
					if err != nil {
						t.Error(err)
					}
					tokens[i] = tok.Value
				}()
			}
			wg.Wait()
			if got := src.calls() - before; got != 1 {
				t.Fatalf("plugin calls = %d, want 1", got)
			}
			for _, v := range tokens {
				if v != tokens[0] {
					t.Fatal("callers got different tokens")
				}
			}
		})
	}
}

// 4. 1,000 concurrent POSTs meet an upstream that starts rejecting the current token: one Refresh,
// 1,000 × 200, every body intact.
func TestThousandConcurrentPostsOneRefresh(t *testing.T) {
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	up := newUpstream(t, bearerValid(src))
	h, _ := newTestHost(t, src, testProvider(up.URL), clk, nil)
	c, _ := h.Client("p")
	post(t, c, up.URL, `{"warm":true}`).Body.Close()
	src.revokeAll()
	refreshesBefore := src.refreshes.Load()

	const n = 1000
	chat := func(i int) string {
		return fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"request %d"}]}`, i)
	}
	hosttest.PostAll(t, c, up.URL+"/v1/chat/completions", n, chat)
	if got := src.refreshes.Load() - refreshesBefore; got != 1 {
		t.Fatalf("Refresh reached the plugin %d times, want 1", got)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for i := range n {
		if body := chat(i); up.bodies[body] != 1 {
			t.Fatalf("body of request %d arrived accepted %d times, want 1", i, up.bodies[body])
		}
	}
}

// 5. A second rejection is returned unchanged: one retry, never a loop.
func TestSecondRejectionReturnedUnchanged(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, func(*http.Request) bool { return false })
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	resp := post(t, c, up.URL, `{"a":1}`)
	body := readAll(t, resp)
	if resp.StatusCode != 401 || !strings.Contains(body, "invalid_api_key") {
		t.Fatalf("got %d %q, want the upstream's own 401", resp.StatusCode, body)
	}
	if got := up.requests.Load(); got != 2 {
		t.Fatalf("upstream saw %d requests, want 2 (original + one resend)", got)
	}
	if got := src.refreshes.Load(); got != 1 {
		t.Fatalf("refreshes = %d, want 1", got)
	}
}

// 5b. A body that cannot be replayed is not retried, and that is logged once; a small one is buffered.
func TestUnreplayableBodyNotRetriedLoggedOnce(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	pc := testProvider(up.URL)
	pc.MaxReplayBytes = 16
	logs := &logBuffer{}
	h, p := newTestHost(t, src, pc, nil, logs)
	c, _ := h.Client("p")
	post(t, c, up.URL, `{}`).Body.Close()

	send := func(body string) *http.Response {
		src.revokeAll()
		req, _ := http.NewRequest(http.MethodPost, up.URL, nil)
		req.Body = io.NopCloser(strings.NewReader(body)) // no GetBody
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for range 2 {
		before := up.requests.Load()
		if resp := send(`{"this body is longer than sixteen bytes":true}`); resp.StatusCode != 401 {
			t.Fatalf("status %d, want the 401 returned as it is", resp.StatusCode)
		}
		if got := up.requests.Load() - before; got != 1 {
			t.Fatalf("upstream saw %d requests, want 1 (no retry)", got)
		}
	}
	if n := strings.Count(logs.String(), "cannot be replayed"); n != 1 {
		t.Fatalf("logged %d times, want once", n)
	}
	if p.stats.notReplayable.Load() != 2 {
		t.Fatal("not-replayable rejections not counted")
	}
	// A body within max_replay_bytes is buffered and replayed.
	if resp := send(`{"small":1}`); resp.StatusCode != 200 {
		t.Fatalf("small unreplayable body: status %d, want 200 after a buffered resend", resp.StatusCode)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.bodies[`{"small":1}`] != 1 {
		t.Fatal("the buffered body did not arrive intact")
	}
}

// 6. ReauthRequired: no retry, no breaker trip, and the error says what to do.
func TestReauthRequiredNoRetryNoTrip(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h, p := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	post(t, c, up.URL, `{}`).Body.Close()
	src.setFail(sdk.ReauthRequired("your sign-in expired; run `fake login` again"))
	for range 5 { // more than breaker.failures
		src.revokeAll()
		before := up.requests.Load()
		req, _ := http.NewRequest(http.MethodPost, up.URL, strings.NewReader(`{}`))
		_, err := c.Do(req)
		if err == nil || !strings.Contains(err.Error(), "fake login") || !strings.Contains(err.Error(), "provider p") {
			t.Fatalf("error %v does not name the provider and the next step", err)
		}
		if !sdk.IsKind(err, sdk.KindReauthRequired) {
			t.Fatalf("kind = %s, want ReauthRequired", sdk.KindOf(err))
		}
		if got := up.requests.Load() - before; got != 1 {
			t.Fatalf("upstream saw %d requests, want 1 (no resend)", got)
		}
	}
	if st := p.tokens.State(); st != gobreaker.StateClosed {
		t.Fatalf("token breaker %s after ReauthRequired, want closed", st)
	}
}

// 7. The upstream breaker opens after breaker.failures gateway errors and then fails fast.
func TestUpstreamBreakerOpensAndFailsFast(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	up.status.Store(503)
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	for range 3 {
		if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 503 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	before := up.requests.Load()
	req, _ := http.NewRequest(http.MethodGet, up.URL, nil)
	_, err := c.Do(req)
	var open *BreakerOpenError
	if !errors.As(err, &open) || open.Provider != "p" || open.What != "upstream" {
		t.Fatalf("err = %v, want an open upstream breaker for p", err)
	}
	if !strings.Contains(err.Error(), "provider p") || time.Until(open.RetryAt) < 59*time.Minute {
		t.Fatalf("error %q should name the provider and a retry time an hour out", err)
	}
	if up.requests.Load() != before {
		t.Fatal("an open breaker still sent the request")
	}
}

// 7b. Half-open lets exactly one probe through; its success closes the breaker.
func TestUpstreamBreakerHalfOpenOneProbe(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	pc := testProvider(up.URL)
	pc.Breaker.OpenFor = time.Nanosecond // half-open as soon as it opens
	h, _ := newTestHost(t, src, pc, nil, nil)
	c, _ := h.Client("p")
	up.status.Store(502)
	for range 3 {
		post(t, c, up.URL, `{}`).Body.Close()
	}
	arrived, release := make(chan struct{}), make(chan struct{})
	up.mu.Lock()
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.WriteHeader(200)
	}
	up.mu.Unlock()
	probe := make(chan int)
	go func() {
		resp, err := c.Get(up.URL)
		if err != nil {
			probe <- -1
			return
		}
		resp.Body.Close()
		probe <- resp.StatusCode
	}()
	<-arrived
	_, err := c.Get(up.URL) // a second request while the probe is out
	var open *BreakerOpenError
	if !errors.As(err, &open) {
		t.Fatalf("second request during the probe: err = %v, want breaker open", err)
	}
	close(release)
	if s := <-probe; s != 200 {
		t.Fatalf("probe status %d", s)
	}
	up.mu.Lock()
	up.handler = nil
	up.mu.Unlock()
	up.status.Store(0)
	if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
		t.Fatalf("after a good probe: status %d, want 200 (breaker closed)", resp.StatusCode)
	}
}

// 7c. A dead token endpoint is not hammered: the token breaker opens after breaker.failures.
func TestTokenBreakerStopsHammeringDeadEndpoint(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	src.setFail(sdk.Unavailable("token endpoint answered 503"))
	h, _ := newTestHost(t, src, testProvider("https://api.example.com"), nil, nil)
	for range 10 {
		_, _ = h.token(context.Background(), "p")
	}
	if got := src.calls(); got != 3 {
		t.Fatalf("plugin calls = %d, want 3 (breaker.failures) before failing fast", got)
	}
	_, err := h.token(context.Background(), "p")
	var open *BreakerOpenError
	if !errors.As(err, &open) || open.What != "token endpoint" {
		t.Fatalf("err = %v, want open token breaker", err)
	}
}

// 8. Token stays home: no credential on a redirect to another host; the caller's own Authorization is
// replaced; Token.Headers go on every attempt; other hosts get nothing.
func TestTokenStaysHome(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	src.headers = map[string]string{"chatgpt-account-id": "acct-1"}
	var foreignAuth, foreignAcct []string
	var fmu sync.Mutex
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmu.Lock()
		foreignAuth = append(foreignAuth, r.Header.Values("Authorization")...)
		foreignAcct = append(foreignAcct, r.Header.Values("Chatgpt-Account-Id")...)
		fmu.Unlock()
	}))
	defer foreign.Close()
	up := newUpstream(t, bearerValid(src))
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")

	t.Run("redirect", func(t *testing.T) {
		up.mu.Lock()
		up.handler = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, foreign.URL+"/elsewhere", http.StatusFound)
		}
		up.mu.Unlock()
		defer func() { up.mu.Lock(); up.handler = nil; up.mu.Unlock() }()
		req, _ := http.NewRequest(http.MethodGet, up.URL+"/go", nil)
		req.Header.Set("Authorization", "Bearer caller-own")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		fmu.Lock()
		defer fmu.Unlock()
		if len(foreignAuth) != 0 || len(foreignAcct) != 0 {
			t.Fatal("a credential followed the redirect to another host")
		}
	})
	t.Run("caller header replaced and extra headers set on every attempt", func(t *testing.T) {
		src.revokeAll() // forces 401 → refresh → resend
		before := len(up.seen)
		req, _ := http.NewRequest(http.MethodPost, up.URL, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer caller-own")
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %v err %v", resp, err)
		}
		resp.Body.Close()
		checkResent(t, up, before)
	})
	t.Run("other host through the transport", func(t *testing.T) {
		resp, err := c.Get(foreign.URL + "/direct")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		fmu.Lock()
		defer fmu.Unlock()
		if len(foreignAuth) != 0 || len(foreignAcct) != 0 {
			t.Fatal("a request to another host carried the credential")
		}
	})
}

// 9. Header modes: api-key with no scheme.
func TestHeaderModeAPIKeyNoScheme(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, func(r *http.Request) bool {
		return r.Header.Get("Authorization") == "" && src.valid(r.Header.Get("Api-Key"))
	})
	pc := testProvider(up.URL)
	pc.Header, pc.Scheme, pc.SchemeSet = "api-key", "", true
	h, _ := newTestHost(t, src, pc, nil, nil)
	c, _ := h.Client("p")
	if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d; upstream wants a bare api-key header and no Authorization", resp.StatusCode)
	}
}

// 9b. A plugin's Info can set the header mode; the config overrides it.
func TestHeaderModeFromPluginInfo(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	src.info = sdk.Info{Header: "X-Api-Key", Scheme: ""}
	up := newUpstream(t, func(r *http.Request) bool { return src.valid(r.Header.Get("X-Api-Key")) })
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	if resp := post(t, c, up.URL, `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// 10. A cancelled request context cancels that caller's wait only.
func TestCancelledContextCancelsOnlyThatCaller(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	hold := make(chan struct{})
	src.setHold(hold)
	h, _ := newTestHost(t, src, testProvider("https://api.example.com"), nil, nil)
	if _, err := h.gen.Load().providers["p"].start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error)
	go func() { _, err := h.token(ctxA, "p"); errA <- err }()
	<-src.entered // the shared fetch is in the plugin
	resB := make(chan error)
	go func() { _, err := h.token(context.Background(), "p"); resB <- err }()
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	close(hold)
	if err := <-resB; err != nil {
		t.Fatalf("the other caller failed: %v", err)
	}
	if got := src.calls(); got != 1 {
		t.Fatalf("plugin calls = %d, want 1", got)
	}
}

// Requests to the upstream in clear text to a non-loopback host never carry the token.
func TestSettingsRefuseCleartextToRemoteHosts(t *testing.T) {
	s, err := resolveSettings(testProvider("https://api.example.com/v1"), sdk.Info{})
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]bool{
		"https://api.example.com/v1/x":     true,
		"https://api.example.com:443/v1/x": true,
		"http://api.example.com/v1/x":      false,
		"https://api.example.com:8443/x":   false,
		"https://evil.example.com/x":       false,
		"https://api.example.com.evil.io/": false,
	} {
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		if got := s.allowed(req.URL); got != want {
			t.Errorf("allowed(%s) = %v, want %v", raw, got, want)
		}
	}
}

// An upstream may answer any three-digit status; none may crash the wrapper.
func TestUnusualStatusCodesPassThrough(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	c, _ := h.Client("p")
	for _, code := range []int{299, 599, 600, 999} {
		up.status.Store(int64(code))
		resp, err := c.Get(up.URL)
		if err != nil {
			t.Fatalf("status %d: %v", code, err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Fatalf("got %d, want %d passed through", resp.StatusCode, code)
		}
	}
}

// A plugin's BadConfig error names its key by its full config path; one without a key names none.
func TestBadConfigKeysGetTheirConfigPath(t *testing.T) {
	for key, want := range map[string]string{
		"client_secret": "providers.p.options.client_secret: provider p: rejected",
		"":              "provider p: rejected",
	} {
		src := newFakeSource(time.Hour, time.Now)
		src.setFail(sdk.BadConfig(key, "rejected"))
		h, _ := newTestHost(t, src, testProvider("https://api.example.com"), nil, nil)
		if _, err := h.token(context.Background(), "p"); err == nil || err.Error() != want {
			t.Errorf("key %q: got %v, want %q", key, err, want)
		}
	}
}

// The first token a provider gets counts as a fetch; only a token that replaces the cached one counts as a
// refresh (what /providers and the metrics report).
func TestFirstFetchIsNotARefresh(t *testing.T) {
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	up := newUpstream(t, bearerValid(src))
	h, _ := newTestHost(t, src, testProvider(up.URL), clk, io.Discard)
	c, err := h.Client("p")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, post(t, c, up.URL+"/x", "{}"))
	if st := h.Status()[0].Stats; st.Fetches != 1 || st.Refreshes != 0 {
		t.Fatalf("after the first request: %d fetches, %d refreshes; want 1 and 0", st.Fetches, st.Refreshes)
	}
	src.revokeAll()
	readAll(t, post(t, c, up.URL+"/x", "{}"))
	if st := h.Status()[0].Stats; st.Fetches != 1 || st.Refreshes != 1 {
		t.Fatalf("after a rejection: %d fetches, %d refreshes; want 1 and 1", st.Fetches, st.Refreshes)
	}
}
