package core_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// leaseFetchTimeout is the fetch_timeout of these tests' provider: its lease time is 1.1 s, and its plugin
// states (Info.MaxFetch) that a fetch may take a minute, as codex's does (75 s by default).
const leaseFetchTimeout = 100 * time.Millisecond

// leaseTime is the lease time of a provider with leaseFetchTimeout.
const leaseTime = leaseFetchTimeout + time.Second

// slowSignIn keeps its state in the storage its host offers and answers a token request only when the test
// lets it: a refresh at an identity provider slower than the fetch lease's time. Each request reads the
// stored sign-in, waits, then writes the rotated sign-in by compare-and-set and returns a token.
type slowSignIn struct {
	st      atomic.Pointer[storageBox]
	calls   atomic.Int64
	entered chan struct{} // one send per request, once it has read the stored sign-in
	proceed chan struct{} // closed by release to let requests answer
	once    sync.Once
	writes  chan error // the outcome of each request's compare-and-set
}

// release lets every request answer; it is idempotent.
func (s *slowSignIn) release() { s.once.Do(func() { close(s.proceed) }) }

// storageBox holds an sdk.Storage for an atomic.Pointer.
type storageBox struct{ sdk.Storage }

func newSlowSignIn() *slowSignIn {
	return &slowSignIn{entered: make(chan struct{}, 16), proceed: make(chan struct{}), writes: make(chan error, 16)}
}

func (s *slowSignIn) UseStorage(st sdk.Storage) { s.st.Store(&storageBox{st}) }

func (s *slowSignIn) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "slow-signin", UsesStorage: s.st.Load() != nil, MaxFetch: time.Minute}, nil
}

func (s *slowSignIn) Token(ctx context.Context) (sdk.Token, error) {
	n := s.calls.Add(1)
	st := s.st.Load()
	_, rev, err := st.Get(ctx, "signin")
	if err != nil {
		return sdk.Token{}, err
	}
	s.entered <- struct{}{}
	select {
	case <-s.proceed:
	case <-ctx.Done():
		return sdk.Token{}, ctx.Err()
	}
	ok, err := st.CompareAndSet(ctx, "signin", rev, fmt.Appendf(nil, "rotated by request %d", n))
	if err == nil && !ok {
		err = fmt.Errorf("compare-and-set lost")
	}
	s.writes <- err
	return sdk.Token{Value: fmt.Sprintf("tok-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
}

func (s *slowSignIn) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// leaseHosts opens n hosts of provider "p" served by src, sharing st, with leaseFetchTimeout; src's
// requests are released before the hosts close, so a failed test does not wait out their fetches.
func leaseHosts(t *testing.T, n int, src *slowSignIn, st store.Store) []*core.Host {
	t.Helper()
	hosts := fleetOf(t, n, src, func(int) store.Store { return st }, func(pc *config.Provider) { pc.FetchTimeout = leaseFetchTimeout })
	for _, h := range hosts {
		if errs := h.Start(t.Context()); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	t.Cleanup(src.release)
	return hosts
}

// localStore opens a local store closed at cleanup.
func localStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tokenAsync asks h for p's token in the background.
func tokenAsync(h *core.Host) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		tok, err := core.TokenOf(context.Background(), h, "p")
		out <- answer{tok, err}
	}()
	return out
}

// The lease holder renews its fetch lease while its fetch runs: a fetch that outlives the lease time
// (fetch_timeout + 1 s) still holds the lease, and no one else can take it until the fetch ends.
func TestFleetLeaseRenewedWhileTheFetchRuns(t *testing.T) {
	store := localStore(t)
	src := newSlowSignIn()
	h := leaseHosts(t, 1, src, store)[0]
	got := tokenAsync(h)
	<-src.entered
	<-time.After(leaseTime + leaseTime/2) // the fetch outlives the lease time (the behaviour under test)
	if _, ok, err := store.Acquire(storetest.Ctx(t), "p/access-token", time.Minute); err != nil || ok {
		t.Fatalf("another holder took the fetch lease while the holder's fetch ran past the lease time (%v, %v)", ok, err)
	}
	src.release()
	if a := <-got; a.err != nil || a.tok.Value != "tok-1" {
		t.Fatalf("Token = %q, %v", a.tok.Value, a.err)
	}
	if err := <-src.writes; err != nil {
		t.Fatalf("the holder's write under its renewed lease: %v", err)
	}
	// The holder gave the lease back when its fetch ended.
	if _, ok, err := store.Acquire(storetest.Ctx(t), "p/access-token", time.Minute); err != nil || !ok {
		t.Fatalf("the fetch lease is still held after the fetch ended (%v, %v)", ok, err)
	}
}

// A host waiting for another host's fetch does not take over its lease while the holder renews it, even
// several lease times on, nor gives up waiting before the holder's fetch may end (Info.MaxFetch): it gets
// the token the holder stores, and its own plugin is never asked (it would redeem the refresh token the
// holder is redeeming).
func TestFleetWaiterDoesNotTakeOverARenewedLease(t *testing.T) {
	store := localStore(t)
	src := newSlowSignIn()
	hosts := leaseHosts(t, 2, src, store)
	first := tokenAsync(hosts[0])
	<-src.entered
	second := tokenAsync(hosts[1])
	<-time.After(3*leaseTime + leaseTime/2) // the fetch outlives several lease times (the behaviour under test)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d token requests while the first host's fetch ran; want 1 (the waiter took over a renewed lease)", n)
	}
	src.release()
	a, b := <-first, <-second
	if a.err != nil || b.err != nil || a.tok.Value != "tok-1" || b.tok.Value != "tok-1" {
		t.Fatalf("tokens %q (%v) and %q (%v); want tok-1 for both", a.tok.Value, a.err, b.tok.Value, b.err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d token requests in all; want 1", n)
	}
}

// renewCut is a store whose lease renewals do not reach the backend (a host cut off from the store for
// renewals alone, or paused): the holder's lease runs out while its fetch still runs.
type renewCut struct{ store.Store }

func (s *renewCut) Renew(context.Context, store.Lease, time.Duration) (bool, error) {
	return false, fmt.Errorf("renewal cut off: %w", store.ErrUnavailable)
}

// A holder whose lease ran out while its plugin refreshed, and was taken by another host, is no longer the
// holder: its plugin's compare-and-set is refused with an Unavailable error (the plugin keeps what it has
// and reads the store again), the newer holder's state is left alone, and the token it fetched is not
// stored as the fleet's.
func TestFleetWriteUnderALostLeaseIsRefused(t *testing.T) {
	ctx := storetest.Ctx(t)
	backend := localStore(t)
	store := &renewCut{Store: backend}
	if err := backend.Set(ctx, "p/plugin/signin", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	before, _ := backend.Get(ctx, "p/plugin/signin")
	src := newSlowSignIn()
	h := leaseHosts(t, 1, src, store)[0]
	got := tokenAsync(h)
	<-src.entered
	// Another host takes the lease once it ran out, and is refreshing (it has not written yet).
	newer := storetest.AcquireEventually(t, backend, "p/access-token", time.Minute)
	src.release()
	err := <-src.writes
	if err == nil || !sdk.IsKind(err, sdk.KindUnavailable) || !strings.Contains(err.Error(), "lost the provider's fetch lease") || !strings.Contains(err.Error(), "provider p") {
		t.Fatalf("the old holder's write after its lease was taken over: %v; want Unavailable saying the lease was lost", err)
	}
	if a := <-got; a.err != nil || a.tok.Value != "tok-1" {
		t.Fatalf("Token = %q, %v; want the fetched token served by its host", a.tok.Value, a.err)
	}
	if it, _ := backend.Get(ctx, "p/plugin/signin"); string(it.Value) != "v1" {
		t.Fatalf("the stored sign-in is %q; want v1, untouched by the old holder", it.Value)
	}
	if it, _ := backend.Get(ctx, "p/access-token"); it.Rev != "" {
		t.Fatal("the old holder stored its token as the fleet's after losing the lease")
	}
	if ok, err := backend.CompareAndSetFenced(ctx, newer, "p/plugin/signin", before.Rev, []byte("v2"), 0); err != nil || !ok {
		t.Fatalf("the newer holder's write = %v, %v; want it stored", ok, err)
	}
}
