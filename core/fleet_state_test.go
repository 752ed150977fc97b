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
)

// statefulSource keeps its state in the storage its host offers (as the gateway plugin keeps a sign-in)
// and counts the tokens it was asked for.
type statefulSource struct {
	calls   atomic.Int64
	storage atomic.Bool
}

func (s *statefulSource) UseStorage(sdk.Storage) { s.storage.Store(true) }

func (s *statefulSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "stateful", UsesStorage: s.storage.Load()}, nil
}

func (s *statefulSource) Token(context.Context) (sdk.Token, error) {
	s.calls.Add(1)
	return sdk.Token{Value: "tok", Expiry: time.Now().Add(time.Hour)}, nil
}

func (s *statefulSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// waitStoreUp waits until h's background probe has seen its store answer again.
func waitStoreUp(t *testing.T, h *core.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !h.StoreStatus().Up {
		select {
		case <-ctx.Done():
			t.Fatal("the host never saw its store answer again")
		case <-tick.C:
		}
	}
}

// startedHost opens a host of shared provider "p" served by src, sharing through st (nil: none), with
// edit applied to the provider's config, and starts its plugin.
func startedHost(t *testing.T, src sdk.Source, st store.Store, edit func(*config.Provider)) *core.Host {
	t.Helper()
	h := fleetOf(t, 1, src, func(int) store.Store { return st }, edit)[0]
	if errs := h.Start(t.Context()); len(errs) > 0 {
		t.Fatal(errs)
	}
	return h
}

// A provider whose plugin keeps its state in the fleet store is not asked for a token while the store is
// unavailable (it would refresh a rotating secret without the fleet's lease): the host fails at once with
// StoreUnavailableError naming the provider and the store, and Status shows where the state lives.
func TestStateInStoreNotFetchedWithoutTheStore(t *testing.T) {
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	shared := redisStores(t, srv.URL(), key, 200*time.Millisecond)(0)
	src := &statefulSource{}
	h := startedHost(t, src, shared, nil)
	if st := h.Status(); len(st) != 1 || !st[0].Info.UsesStorage {
		t.Fatalf("Status does not say the plugin keeps its state in the store: %+v", st)
	}
	srv.Stop()
	_, err := core.TokenOf(t.Context(), h, "p")
	var down *core.StoreUnavailableError
	if !errors.As(err, &down) || down.Provider != "p" || !strings.Contains(err.Error(), "shared store") || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Token with the store down: %v; want StoreUnavailableError", err)
	}
	// Now the host knows the store is down: the next fetch fails without waiting for a store timeout.
	if _, err := core.TokenOf(t.Context(), h, "p"); !errors.As(err, &down) || !strings.Contains(err.Error(), "unavailable since") {
		t.Fatalf("second Token with the store known down: %v; want StoreUnavailableError saying since when", err)
	}
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("the plugin was asked %d times without the store", n)
	}
	srv.Restart(t)
	waitStoreUp(t, h)
	if tok, err := core.TokenOf(t.Context(), h, "p"); err != nil || tok.Value != "tok" {
		t.Fatalf("Token after the store returned: %v", err)
	}
}

// Without a fleet store the host offers no storage: the plugin keeps its own state and Status says so.
func TestStateNotInStoreWithoutAFleetStore(t *testing.T) {
	src := &statefulSource{}
	h := startedHost(t, src, nil, nil)
	if _, err := core.TokenOf(t.Context(), h, "p"); err != nil {
		t.Fatal(err)
	}
	if st := h.Status(); src.storage.Load() || st[0].Info.UsesStorage {
		t.Fatal("storage offered without a fleet store")
	}
}

// leaseProbe is a statefulSource that, while it is asked for a token, checks whether its host holds the
// fleet's fetch lease (another holder cannot take it).
type leaseProbe struct {
	statefulSource
	store   store.Store
	leased  atomic.Bool
	checked atomic.Bool
}

func (s *leaseProbe) Token(ctx context.Context) (sdk.Token, error) {
	_, got, err := s.store.Acquire(ctx, "p/access-token", time.Minute)
	s.leased.Store(err == nil && !got)
	s.checked.Store(true)
	return s.statefulSource.Token(ctx)
}

func (s *leaseProbe) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// A host of a provider whose plugin keeps its state in the store, waiting behind a lease holder that died,
// takes the lease when it runs out and asks its plugin under it, rather than asking without the lease (as
// hosts of other providers do): two hosts redeeming one rotating refresh token would revoke the sign-in.
func TestStateInStoreRefreshesOnlyUnderTheLease(t *testing.T) {
	store, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	src := &leaseProbe{store: store}
	h := startedHost(t, src, store, func(pc *config.Provider) { pc.FetchTimeout = 300 * time.Millisecond }) // the lease: 1.3 s
	// A holder that dies: its lease is never released and runs out after 500ms.
	if _, got, err := store.Acquire(t.Context(), "p/access-token", 500*time.Millisecond); err != nil || !got {
		t.Fatalf("taking the lease: %v %v", got, err)
	}
	if _, err := core.TokenOf(t.Context(), h, "p"); err != nil {
		t.Fatal(err)
	}
	if src.calls.Load() != 1 || !src.checked.Load() || !src.leased.Load() {
		t.Fatalf("%d plugin calls, lease held during the call: %v; want 1 call under the host's lease", src.calls.Load(), src.leased.Load())
	}
}

// stateFailing is a store whose plugin-state keys ("<provider>/plugin/...") are unavailable while fail is
// set: the fleet store went away after the host's own store calls succeeded.
type stateFailing struct {
	store.Store
	fail atomic.Bool
}

func (s *stateFailing) Get(ctx context.Context, key string) (store.Item, error) {
	if s.fail.Load() && strings.Contains(key, "/plugin/") {
		return store.Item{}, fmt.Errorf("connection reset: %w", store.ErrUnavailable)
	}
	return s.Store.Get(ctx, key)
}

// storageReader reads its state from the storage the host offers on every token request.
type storageReader struct {
	statefulSource
	st sdk.Storage
}

func (s *storageReader) UseStorage(st sdk.Storage) { s.st = st; s.statefulSource.UseStorage(st) }

func (s *storageReader) Token(ctx context.Context) (sdk.Token, error) {
	if _, _, err := s.st.Get(ctx, "signin"); err != nil {
		return sdk.Token{}, err
	}
	return s.statefulSource.Token(ctx)
}

func (s *storageReader) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// A plugin that fails because its state's store is unavailable yields StoreUnavailableError, which the
// token breaker does not count: the token endpoint was never asked.
func TestStateStoreFailureIsNotAnEndpointFailure(t *testing.T) {
	local, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	store := &stateFailing{Store: local}
	h := startedHost(t, &storageReader{}, store, nil)
	store.fail.Store(true)
	for range h.Config().Providers[0].Breaker.Failures + 1 {
		_, err := core.TokenOf(t.Context(), h, "p")
		var down *core.StoreUnavailableError
		if !errors.As(err, &down) {
			t.Fatalf("Token with the plugin's store down: %v; want StoreUnavailableError", err)
		}
	}
	if st := h.Status(); st[0].TokenBreaker != "closed" {
		t.Fatalf("token breaker %s after store failures; want closed", st[0].TokenBreaker)
	}
	store.fail.Store(false)
	waitStoreUp(t, h)
	if _, err := core.TokenOf(t.Context(), h, "p"); err != nil {
		t.Fatalf("Token with the store back: %v", err)
	}
}

// The same for a host whose plugin has not started yet when it finds the store down: the host starts the
// plugin to learn that it keeps its state in the store, and does not ask it for a token.
func TestStateInStoreColdHostNotFetchedWithoutTheStore(t *testing.T) {
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	src := &statefulSource{}
	h := fleetOf(t, 1, src, redisStores(t, srv.URL(), key, 200*time.Millisecond), nil)[0]
	srv.Stop()
	_, err := core.TokenOf(t.Context(), h, "p")
	var down *core.StoreUnavailableError
	if !errors.As(err, &down) || src.calls.Load() != 0 {
		t.Fatalf("Token on a cold host with the store down: %v after %d plugin calls; want StoreUnavailableError and none", err, src.calls.Load())
	}
}
