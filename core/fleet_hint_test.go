package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/redistest"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// downIdP is a token endpoint that is down until up is set: it counts the calls it gets.
type downIdP struct {
	calls atomic.Int64
	up    atomic.Bool
}

func (d *downIdP) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "down"}, nil
}

func (d *downIdP) Token(context.Context) (sdk.Token, error) {
	n := d.calls.Add(1)
	if !d.up.Load() {
		return sdk.Token{}, sdk.Unavailable("token endpoint answered 503")
	}
	return sdk.Token{Value: fmt.Sprintf("tok-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
}

func (d *downIdP) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) { return d.Token(ctx) }

// fleetHinted counts the errors that are the fleet's "token endpoint down" hint, and fails the test on an
// error that is neither that nor the endpoint's own.
func fleetHinted(t *testing.T, answers []answer) int {
	t.Helper()
	n := 0
	for _, a := range answers {
		err := a.err
		var open *core.BreakerOpenError
		switch {
		case err == nil:
			t.Fatal("a host got a token from a token endpoint that is down")
		case errors.As(err, &open) && strings.Contains(err.Error(), "found down by a host of the fleet") && open.RetryAt.After(time.Now()):
			n++
		case !sdk.IsKind(err, sdk.KindUnavailable):
			t.Fatalf("error %v; want the endpoint's own (unavailable) or the fleet's hint (circuit open)", err)
		}
	}
	return n
}

// checkFleetDownHint: with the token endpoint down, one host of three finds it out and the others fail
// fast on its hint until breaker open_for has passed: the endpoint sees one call per open_for window,
// not three (nor twelve, one per caller); once it is back, the hint is gone with the first new token.
func checkFleetDownHint(t *testing.T, store func(int) store.Store) {
	const openFor = time.Second
	idp := &downIdP{}
	hosts := fleetOf(t, 3, idp, store, func(pc *config.Provider) { pc.Breaker = config.Breaker{Failures: 3, OpenFor: openFor} })
	if hinted := fleetHinted(t, askAll(t, hosts)); idp.calls.Load() != 1 || hinted == 0 {
		t.Fatalf("3 hosts x 4 callers with the endpoint down: %d endpoint calls, %d callers failed on the fleet's hint; want 1 call and the others hinted", idp.calls.Load(), hinted)
	}
	for _, h := range hosts { // each host again: all fail fast on the hint
		_, err := core.TokenOf(storetest.Ctx(t), h, "p")
		if fleetHinted(t, []answer{{err: err}}) != 1 {
			t.Fatalf("a host asked again within open_for: %v; want the fleet's hint", err)
		}
	}
	if n := idp.calls.Load(); n != 1 {
		t.Fatalf("within open_for: %d endpoint calls; want still 1", n)
	}
	<-time.After(openFor) // let the hint run out (its lifetime is the behaviour under test)
	if fleetHinted(t, askAll(t, hosts)); idp.calls.Load() != 2 {
		t.Fatalf("after open_for: %d endpoint calls in all; want 2 (one more probe for the fleet)", idp.calls.Load())
	}
	idp.up.Store(true)
	<-time.After(openFor)
	if seen := tokensAtOnce(t, hosts); idp.calls.Load() != 3 || len(seen) != 1 {
		t.Fatalf("endpoint back: %d calls in all, %d distinct tokens; want 3 and 1", idp.calls.Load(), len(seen))
	}
}

func TestFleetDownHintLocalStore(t *testing.T) {
	s, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkFleetDownHint(t, func(int) store.Store { return s })
}

// TestFleetDownHintRedis: three hosts, each with its own connection to one redis-server.
func TestFleetDownHintRedis(t *testing.T) {
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	checkFleetDownHint(t, redisStores(t, srv.URL(), key, 2*time.Second))
}
