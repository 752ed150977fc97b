package core

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tokenhost/tokenhost/sdk"
)

// scriptedSource hands out the token its make func builds, counting calls.
type scriptedSource struct {
	info      sdk.Info
	make      func() sdk.Token
	tokens    atomic.Int64
	refreshes atomic.Int64
}

func (s *scriptedSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return s.info, nil
}

func (s *scriptedSource) Token(context.Context) (sdk.Token, error) {
	s.tokens.Add(1)
	return s.make(), nil
}

func (s *scriptedSource) Refresh(context.Context, sdk.Token) (sdk.Token, error) {
	s.refreshes.Add(1)
	return s.make(), nil
}

// What a plugin returns is checked before it is cached or sent. A bad header name or
// value, a reserved header, a header replacing the credential, or a token with characters a header
// cannot carry is a plugin error naming the field: nothing reaches the upstream, and the token breaker
// stays closed however often it happens.
func TestUnusablePluginTokensAreRefusedNamingTheField(t *testing.T) {
	hour := func() time.Time { return time.Now().Add(time.Hour) }
	cases := []struct {
		name  string
		tok   sdk.Token
		info  sdk.Info
		field string
	}{
		{"Host header", sdk.Token{Value: "tok", Headers: map[string]string{"Host": "evil.example"}}, sdk.Info{}, `Headers["Host"]`},
		{"Authorization header", sdk.Token{Value: "tok", Headers: map[string]string{"authorization": "Bearer other"}}, sdk.Info{}, `Headers["authorization"]`},
		{"hop-by-hop header", sdk.Token{Value: "tok", Headers: map[string]string{"Transfer-Encoding": "chunked"}}, sdk.Info{}, `Headers["Transfer-Encoding"]`},
		{"Connection header", sdk.Token{Value: "tok", Headers: map[string]string{"Connection": "close"}}, sdk.Info{}, `Headers["Connection"]`},
		{"CRLF in a header value", sdk.Token{Value: "tok", Headers: map[string]string{"X-Account": "a\r\nX-Injected: 1"}}, sdk.Info{}, `Headers["X-Account"]`},
		{"header name with a space", sdk.Token{Value: "tok", Headers: map[string]string{"X Account": "a"}}, sdk.Info{}, `Headers["X Account"]`},
		{"header replacing the credential", sdk.Token{Value: "tok", Headers: map[string]string{"api-key": "other"}}, sdk.Info{Header: "Api-Key"}, `Headers["api-key"]`},
		{"CRLF in the token", sdk.Token{Value: "zqx\r\nX-Injected: 1"}, sdk.Info{}, "Value"},
		{"space in the token", sdk.Token{Value: "zqx en"}, sdk.Info{}, "Value"},
		{"non-ASCII token", sdk.Token{Value: "zqxö"}, sdk.Info{}, "Value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &scriptedSource{info: tc.info, make: func() sdk.Token {
				tok := tc.tok
				tok.Expiry = hour()
				return tok
			}}
			up := newUpstream(t, func(*http.Request) bool { return true })
			h, p := newTestHost(t, src, testProvider(up.URL), nil, nil)
			c, _ := h.Client("p")
			for range 10 {
				req, _ := http.NewRequest(http.MethodGet, up.URL, nil)
				_, err := c.Do(req)
				var open *BreakerOpenError
				if err == nil || errors.As(err, &open) || !strings.Contains(err.Error(), tc.field) ||
					!strings.Contains(err.Error(), "provider p") || !sdk.IsKind(err, sdk.KindInternal) {
					t.Fatalf("err = %v, want a plugin error naming %s", err, tc.field)
				}
				if strings.Contains(err.Error(), "zqx") {
					t.Fatalf("the error shows the token: %v", err)
				}
			}
			if got := up.requests.Load(); got != 0 {
				t.Fatalf("the upstream saw %d requests, want none", got)
			}
			if st := p.tokens.State(); st != gobreaker.StateClosed {
				t.Fatalf("token breaker %s, want closed", st)
			}
		})
	}
}

// A token that has already expired is not cached: the host asks for one Refresh, and
// when that one has expired too, the caller gets an error naming Expiry. The plugin is not asked again
// before min_refresh_interval: the callers meanwhile get the same error at once.
func TestExpiredTokenOneRefreshThenClearError(t *testing.T) {
	clk := newClock()
	src := &scriptedSource{make: func() sdk.Token { return sdk.Token{Value: "tok", Expiry: clk.now().Add(-time.Minute)} }}
	pc := testProvider("https://api.example.com")
	h, p := newTestHost(t, src, pc, clk, nil)
	for i := range 10 {
		_, err := h.token(context.Background(), "p")
		if err == nil || !strings.Contains(err.Error(), "Expiry") || !strings.Contains(err.Error(), "clock") || !sdk.IsKind(err, sdk.KindInternal) {
			t.Fatalf("call %d: err = %v, want an error naming Expiry and the clock", i, err)
		}
		if i > 0 && !strings.Contains(err.Error(), "min_refresh_interval") {
			t.Fatalf("call %d: err = %v, want it to say when the plugin is asked again", i, err)
		}
	}
	if src.tokens.Load() != 1 || src.refreshes.Load() != 1 {
		t.Fatalf("Token %d, Refresh %d calls for 10 requests; want exactly one of each", src.tokens.Load(), src.refreshes.Load())
	}
	if p.cache.cur.Load() != nil {
		t.Fatal("the expired token was cached")
	}
	clk.advance(pc.MinRefreshInterval)
	_, _ = h.token(context.Background(), "p")
	if src.tokens.Load() != 2 || src.refreshes.Load() != 2 {
		t.Fatalf("after min_refresh_interval: Token %d, Refresh %d calls; want two of each", src.tokens.Load(), src.refreshes.Load())
	}
}

// A RefreshAt already in the past is ignored (it would start a refresh at once): the
// entry refreshes ahead of its expiry as if RefreshAt were unset.
func TestPastRefreshAtIsIgnored(t *testing.T) {
	clk := newClock()
	src := &scriptedSource{make: func() sdk.Token {
		return sdk.Token{Value: "tok", Expiry: clk.now().Add(time.Hour), RefreshAt: clk.now().Add(-time.Minute)}
	}}
	h, p := newTestHost(t, src, testProvider("https://api.example.com"), clk, nil)
	if _, err := h.token(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	e := p.cache.cur.Load()
	if want := e.expiry.Add(-p.cache.refreshBefore); !e.refreshAt.Equal(want) {
		t.Fatalf("refresh at %s, want %s (expiry − refresh_before)", e.refreshAt, want)
	}
	for range 10 {
		if _, err := h.token(context.Background(), "p"); err != nil {
			t.Fatal(err)
		}
	}
	if src.refreshes.Load() != 0 || src.tokens.Load() != 1 {
		t.Fatalf("Token %d, Refresh %d calls; want 1 and 0", src.tokens.Load(), src.refreshes.Load())
	}
}
