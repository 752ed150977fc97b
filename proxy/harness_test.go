package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/plugins/gateway"
	"github.com/tokenhost/tokenhost/sdk"
)

// TestMain lets this test binary serve the gateway plugin when a host under test re-executes it.
func TestMain(m *testing.M) {
	core.RegisterBuiltin(gateway.Name, gateway.Version, gateway.New)
	if core.ServeIfPlugin() {
		return
	}
	os.Exit(m.Run())
}

// fakeSource is an in-process sdk.Source that issues numbered tokens, can revoke them all and fail.
type fakeSource struct {
	life time.Duration
	now  func() time.Time

	mu        sync.Mutex
	issued    map[string]bool
	serial    int
	fail      error // returned by every Token/Refresh while set
	refreshes atomic.Int64
}

func newFakeSource(life time.Duration, now func() time.Time) *fakeSource {
	return &fakeSource{life: life, now: now, issued: map[string]bool{}}
}

func (f *fakeSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "fake", Version: "test"}, nil
}

func (f *fakeSource) Token(context.Context) (sdk.Token, error) { return f.issue() }

func (f *fakeSource) Refresh(context.Context, sdk.Token) (sdk.Token, error) {
	f.refreshes.Add(1)
	return f.issue()
}

func (f *fakeSource) issue() (sdk.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return sdk.Token{}, f.fail
	}
	f.serial++
	v := fmt.Sprintf("tok-%d", f.serial)
	f.issued[v] = true
	return sdk.Token{Value: v, Type: "Bearer", Expiry: f.now().Add(f.life)}, nil
}

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

func (f *fakeSource) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// upstream is a loopback API that accepts only requests its valid func accepts.
type upstream struct {
	*httptest.Server
	valid    func(r *http.Request) bool
	requests atomic.Int64
	status   atomic.Int64 // when non-zero, answered to every request instead
	mu       sync.Mutex
	handler  http.HandlerFunc
}

func newUpstream(t *testing.T, valid func(r *http.Request) bool) *upstream {
	u := &upstream{valid: valid}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		u.mu.Lock()
		h := u.handler
		u.mu.Unlock()
		switch {
		case h != nil:
			h(w, r)
		case u.status.Load() != 0:
			w.WriteHeader(int(u.status.Load()))
		case !u.valid(r):
			w.WriteHeader(http.StatusUnauthorized)
		default:
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// bearerValid accepts "Authorization: Bearer <tok>" when src issued tok and has not revoked it.
func bearerValid(src *fakeSource) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		v := r.Header.Values("Authorization")
		tok, ok := strings.CutPrefix(strings.Join(v, ","), "Bearer ")
		return len(v) == 1 && ok && src.valid(tok)
	}
}

// testProvider returns a provider config named "p" with the defaults the loader would give.
func testProvider(upstreamURL string) *config.Provider { return hosttest.Provider(upstreamURL) }

// newTestHost opens a host whose provider runs src in process.
func newTestHost(tb testing.TB, src sdk.Source, pc *config.Provider) *core.Host {
	tb.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 256
	tb.Cleanup(base.CloseIdleConnections)
	h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"},
		Base: base, Logger: newTestLogger(io.Discard), InProcess: map[string]sdk.Source{pc.Name: src}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// proxyFor serves h's proxy handler on loopback.
func proxyFor(t *testing.T, h *core.Host, opts Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(h, opts))
	t.Cleanup(srv.Close)
	return srv
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var errReauth = sdk.ReauthRequired("your sign-in expired; run `fake login` again")
