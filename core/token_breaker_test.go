package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tokenhost/tokenhost/sdk"
)

// A plugin's Internal, BadConfig and ReauthRequired errors never open the token
// breaker: every call reaches the plugin and its own message reaches the caller, never "circuit open".
func TestOnlyUnavailableOpensTokenBreaker(t *testing.T) {
	for _, fail := range []error{
		sdk.Internal("auth.json is corrupt (invalid character '}' at offset 12); run `fake login` to rewrite it"),
		errors.New("open /home/u/.fake/auth.json: permission denied"),
		sdk.BadConfig("token_url", "must be an https URL"),
		sdk.ReauthRequired("your sign-in expired; run `fake login` again"),
	} {
		src := newFakeSource(time.Hour, time.Now)
		src.setFail(fail)
		h, p := newTestHost(t, src, testProvider("https://api.example.com"), nil, nil)
		want := fail.Error()
		if e := (*sdk.Error)(nil); errors.As(fail, &e) {
			want = e.Message
		}
		for i := range 10 {
			_, err := h.token(context.Background(), "p")
			var open *BreakerOpenError
			if errors.As(err, &open) || err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%q, call %d: err = %v, want the plugin's own message", want, i, err)
			}
		}
		if got := src.calls(); got != 10 {
			t.Fatalf("%q: plugin calls = %d, want all 10", want, got)
		}
		if st := p.tokens.State(); st != gobreaker.StateClosed {
			t.Fatalf("%q: token breaker %s, want closed", want, st)
		}
	}
}

// A fetch that outlives fetch_timeout is a FetchTimeoutError naming the provider and
// the key to raise, and counts against the token breaker like an unavailable endpoint.
func TestFetchTimeoutIsItsOwnErrorAndCounts(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	src.setHold(make(chan struct{})) // never released: every fetch runs into fetch_timeout
	pc := testProvider("https://api.example.com")
	pc.FetchTimeout = time.Millisecond
	h, p := newTestHost(t, src, pc, nil, nil)
	for i := range pc.Breaker.Failures {
		_, err := h.token(context.Background(), "p")
		var timeout *FetchTimeoutError
		if !errors.As(err, &timeout) || !errors.Is(err, context.DeadlineExceeded) ||
			!strings.Contains(err.Error(), "providers.p.fetch_timeout") || !strings.Contains(err.Error(), "provider p") {
			t.Fatalf("call %d: err = %v, want a FetchTimeoutError naming providers.p.fetch_timeout", i, err)
		}
	}
	if st := p.tokens.State(); st != gobreaker.StateOpen {
		t.Fatalf("token breaker %s after %d timeouts, want open", st, pc.Breaker.Failures)
	}
}
