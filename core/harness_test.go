package core

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// fakeSource is an in-process sdk.Source whose every call is counted and can be held or made to fail.
type fakeSource struct {
	life    time.Duration
	now     func() time.Time
	headers map[string]string
	info    sdk.Info

	mu        sync.Mutex
	issued    map[string]bool
	serial    int
	failNext  error         // returned by every Token/Refresh while set
	hold      chan struct{} // while non-nil, calls wait for it to close
	entered   chan struct{} // receives once per call that starts waiting on hold
	tokens    atomic.Int64
	refreshes atomic.Int64
}

func newFakeSource(life time.Duration, now func() time.Time) *fakeSource {
	return &fakeSource{life: life, now: now, issued: map[string]bool{}, entered: make(chan struct{}, 1024)}
}

func (f *fakeSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	info := f.info
	info.Name, info.Version = "fake", "test"
	return info, nil
}

func (f *fakeSource) issue(ctx context.Context) (sdk.Token, error) {
	f.mu.Lock()
	hold, err := f.hold, f.failNext
	f.mu.Unlock()
	if hold != nil {
		f.entered <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return sdk.Token{}, ctx.Err()
		}
	}
	if err != nil {
		return sdk.Token{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serial++
	v := fmt.Sprintf("tok-%d", f.serial)
	f.issued[v] = true
	t := sdk.Token{Value: v, Type: "Bearer", Headers: f.headers}
	if f.life > 0 {
		t.Expiry = f.now().Add(f.life)
	}
	return t, nil
}

func (f *fakeSource) Token(ctx context.Context) (sdk.Token, error) {
	f.tokens.Add(1)
	return f.issue(ctx)
}

func (f *fakeSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	f.refreshes.Add(1)
	return f.issue(ctx)
}

// calls is every Token and Refresh that reached the source.
func (f *fakeSource) calls() int64 { return f.tokens.Load() + f.refreshes.Load() }

func (f *fakeSource) valid(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued[tok]
}

func (f *fakeSource) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued = map[string]bool{}
}

func (f *fakeSource) setHold(h chan struct{}) {
	f.mu.Lock()
	f.hold = h
	f.mu.Unlock()
}

func (f *fakeSource) setFail(err error) {
	f.mu.Lock()
	f.failNext = err
	f.mu.Unlock()
}

// clock is a settable time source for the cache.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

// upstream is a loopback API that accepts only tokens its valid func accepts.
type upstream struct {
	*httptest.Server
	valid    func(r *http.Request) bool
	requests atomic.Int64
	mu       sync.Mutex
	seen     []http.Header
	bodies   map[string]int // request body → times it arrived with an accepted token
	status   atomic.Int64   // when non-zero, answered to every request instead
	handler  http.HandlerFunc
}

func newUpstream(t *testing.T, valid func(r *http.Request) bool) *upstream {
	u := &upstream{valid: valid, bodies: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		h := u.handler
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if s := u.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		if !u.valid(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"invalid token","type":"invalid_request_error","code":"invalid_api_key"}}`)
			return
		}
		u.mu.Lock()
		u.bodies[string(body)]++
		u.mu.Unlock()
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[len(u.seen)-1]
}

// bearerValid accepts "Authorization: Bearer <tok>" when src issued tok and has not revoked it.
func bearerValid(src *fakeSource) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		v := r.Header.Values("Authorization")
		return len(v) == 1 && len(v[0]) > 7 && v[0][:7] == "Bearer " && src.valid(v[0][7:])
	}
}

// testProvider returns a provider config with the defaults the loader would give, pointed at upstreamURL.
func testProvider(upstreamURL string) *config.Provider { return hosttest.Provider(upstreamURL) }

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestHost opens a host over an in-process source for provider "p" and returns it with its provider.
func newTestHost(t *testing.T, src sdk.Source, pc *config.Provider, clk *clock, logs io.Writer) (*Host, *provider) {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 256
	t.Cleanup(base.CloseIdleConnections)
	cfg := &config.Config{Providers: []*config.Provider{pc}, Source: "test"}
	h, err := Open(context.Background(), Options{Config: cfg, Base: base, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		InProcess: map[string]sdk.Source{pc.Name: src}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	p := h.gen.Load().providers[pc.Name]
	if clk != nil {
		p.cache.now = clk.now
	}
	return h, p
}

func post(t *testing.T, c *http.Client, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var errReauth = sdk.ReauthRequired("your sign-in expired; run `fake login` again")

// token asks for provider name's token the way an embedder does: h.Provider(name), then Token.
func (h *Host) token(ctx context.Context, name string) (sdk.Token, error) {
	p, err := h.Provider(name)
	if err != nil {
		return sdk.Token{}, err
	}
	return p.Token(ctx)
}

// transportOf is provider name's transport as an embedder gets it: h.Provider(name), then Transport.
func (h *Host) transportOf(name string) (http.RoundTripper, error) {
	p, err := h.Provider(name)
	if err != nil {
		return nil, err
	}
	return p.Transport(), nil
}

// login runs provider name's sign-in through its handle.
func (h *Host) login(ctx context.Context, name string, ui sdk.UI) (sdk.LoginResult, error) {
	p, err := h.Provider(name)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	return p.Login(ctx, ui)
}

// logout runs provider name's sign-out through its handle.
func (h *Host) logout(ctx context.Context, name string) (string, error) {
	p, err := h.Provider(name)
	if err != nil {
		return "", err
	}
	return p.Logout(ctx)
}
