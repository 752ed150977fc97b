// Package storetest is the conformance suite every store.Store backend passes, for the tests of backends
// in this module and elsewhere. Run checks a backend's own semantics: values, compare-and-set, expiry,
// leases with fencing values (renewed, and checked by writes made under them), and waiting for a change.
// RunSealed checks store.Open's sealing over the backend, with several hosts sharing it: keyed names, key
// rotation and upgrades moving stored state (leaving tombstones), refusing values written back, and hosts
// that disagree on the keys sharing leases and losing no write.
//
// A backend's test gives Run a function that opens a fresh, empty store for each subtest and registers its
// cleanup (ExampleRun); RunSealed takes the raw backend and a way to open a sealed host over it (Sealed).
// store/redisstore runs both against a real redis-server. The subtests use keys of the form
// "provider/name" and lease and expiry times of tens of milliseconds.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// Open returns a fresh, empty store for one subtest; it registers its own cleanup.
type Open func(t *testing.T) store.Store

// Run runs the suite against stores from open.
func Run(t *testing.T, open Open) {
	t.Run("GetSetDelete", func(t *testing.T) { getSetDelete(t, open(t)) })
	t.Run("CompareAndSet", func(t *testing.T) { compareAndSet(t, open(t)) })
	t.Run("LeaseExclusive", func(t *testing.T) { leaseExclusive(t, open(t)) })
	t.Run("LeaseExpiryReplacesDeadHolder", func(t *testing.T) { leaseExpiry(t, open(t)) })
	t.Run("LeaseRenewedOnlyByItsHolder", func(t *testing.T) { leaseRenew(t, open(t)) })
	t.Run("FencedWriteRefusedAfterLeaseLost", func(t *testing.T) { fencedWrite(t, open(t)) })
	t.Run("WaitWakesOnChange", func(t *testing.T) { waitWakes(t, open(t)) })
	t.Run("WaitSeesExpiry", func(t *testing.T) { waitExpiry(t, open(t)) })
	t.Run("WaitHonoursContext", func(t *testing.T) { waitContext(t, open(t)) })
}

// Ctx returns a context that ends the test's store calls if a backend hangs.
func Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func getSetDelete(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	if it, err := s.Get(ctx, "p/absent"); err != nil || it.Rev != "" || it.Value != nil {
		t.Fatalf("Get(absent) = %q rev %q, %v; want nothing", it.Value, it.Rev, err)
	}
	if err := s.Set(ctx, "p/k", []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	it, err := s.Get(ctx, "p/k")
	if err != nil || !bytes.Equal(it.Value, []byte("one")) || it.Rev == "" {
		t.Fatalf("Get after Set = %q rev %q, %v; want \"one\" with a revision", it.Value, it.Rev, err)
	}
	if err := s.Delete(ctx, "p/k"); err != nil {
		t.Fatal(err)
	}
	if it, err := s.Get(ctx, "p/k"); err != nil || it.Rev != "" {
		t.Fatalf("Get after Delete = rev %q, %v; want absent", it.Rev, err)
	}
	if err := s.Delete(ctx, "p/k"); err != nil {
		t.Fatalf("Delete(absent) = %v, want nil", err)
	}
}

func compareAndSet(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	ok, err := s.CompareAndSet(ctx, "p/cas", "", []byte("v1"), time.Minute)
	if err != nil || !ok {
		t.Fatalf("CAS on absent key with rev \"\" = %v, %v; want true", ok, err)
	}
	if ok, err := s.CompareAndSet(ctx, "p/cas", "", []byte("other"), time.Minute); err != nil || ok {
		t.Fatalf("second CAS expecting absence = %v, %v; want false", ok, err)
	}
	v1, _ := s.Get(ctx, "p/cas")
	if ok, err := s.CompareAndSet(ctx, "p/cas", v1.Rev, []byte("v2"), time.Minute); err != nil || !ok {
		t.Fatalf("CAS with the current rev = %v, %v; want true", ok, err)
	}
	if ok, err := s.CompareAndSet(ctx, "p/cas", v1.Rev, []byte("v3"), time.Minute); err != nil || ok {
		t.Fatalf("CAS with a stale rev = %v, %v; want false", ok, err)
	}
	v2, _ := s.Get(ctx, "p/cas")
	if string(v2.Value) != "v2" || v2.Rev == v1.Rev {
		t.Fatalf("after CAS: %q rev %q (before: %q); want v2 with a new revision", v2.Value, v2.Rev, v1.Rev)
	}
	// Concurrent CAS from one revision: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if ok, err := s.CompareAndSet(ctx, "p/cas", v2.Rev, []byte("race"), time.Minute); err == nil && ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent CAS from one revision won, want exactly 1", wins)
	}
}

func leaseExclusive(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	var wg sync.WaitGroup
	leases := make(chan store.Lease, 16)
	for range 16 {
		wg.Go(func() {
			l, ok, err := s.Acquire(ctx, "p/refresh", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				leases <- l
			}
		})
	}
	wg.Wait()
	close(leases)
	var got []store.Lease
	for l := range leases {
		got = append(got, l)
	}
	if len(got) != 1 {
		t.Fatalf("%d of 16 concurrent Acquire calls got the lease, want exactly 1", len(got))
	}
	first := got[0]
	if err := s.Release(ctx, first); err != nil {
		t.Fatal(err)
	}
	second, ok, err := s.Acquire(ctx, "p/refresh", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Acquire after Release = %v, %v; want the lease", ok, err)
	}
	if second.Fence <= first.Fence {
		t.Fatalf("fence after re-acquiring = %d, first was %d; want it larger", second.Fence, first.Fence)
	}
	// A stale holder's Release must not free the new holder's lease.
	if err := s.Release(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Acquire(ctx, "p/refresh", time.Minute); ok {
		t.Fatal("a stale holder's Release freed the current holder's lease")
	}
}

func leaseExpiry(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	dead, ok, err := s.Acquire(ctx, "p/dead", 50*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	// The holder never releases (it died); the lease must come free by itself.
	next := AcquireEventually(t, s, "p/dead", time.Minute)
	if next.Fence <= dead.Fence || next.Holder == dead.Holder {
		t.Fatalf("lease after expiry: fence %d holder change %v; want fence > %d and a new holder", next.Fence, next.Holder != dead.Holder, dead.Fence)
	}
}

func leaseRenew(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	first, ok, err := s.Acquire(ctx, "p/renew", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	if ok, err := s.Renew(ctx, first, time.Minute); err != nil || !ok {
		t.Fatalf("Renew by the holder = %v, %v; want true", ok, err)
	}
	if _, ok, _ := s.Acquire(ctx, "p/renew", time.Minute); ok {
		t.Fatal("a renewed lease was taken by another holder")
	}
	// Renew sets the lease time from now: shortened, the lease runs out and another holder takes it.
	if ok, err := s.Renew(ctx, first, 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("Renew to 50ms = %v, %v; want true", ok, err)
	}
	second := AcquireEventually(t, s, "p/renew", time.Minute)
	// The first holder's Renew must neither succeed nor touch the second holder's lease.
	if ok, err := s.Renew(ctx, first, 50*time.Millisecond); err != nil || ok {
		t.Fatalf("Renew by a holder whose lease was taken over = %v, %v; want false", ok, err)
	}
	if ok, err := s.Renew(ctx, second, time.Minute); err != nil || !ok {
		t.Fatalf("Renew by the new holder = %v, %v; want true", ok, err)
	}
	if err := s.Release(ctx, second); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Renew(ctx, second, time.Minute); err != nil || ok {
		t.Fatalf("Renew of a released lease = %v, %v; want false", ok, err)
	}
}

func fencedWrite(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	first, ok, err := s.Acquire(ctx, "p/fenced", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	if ok, err := s.CompareAndSetFenced(ctx, first, "p/state", "", []byte("one"), 0); err != nil || !ok {
		t.Fatalf("fenced CAS by the holder = %v, %v; want true", ok, err)
	}
	one, _ := s.Get(ctx, "p/state")
	if string(one.Value) != "one" {
		t.Fatalf("after the fenced CAS: %q; want one", one.Value)
	}
	if ok, err := s.CompareAndSetFenced(ctx, first, "p/state", "", []byte("x"), 0); err != nil || ok {
		t.Fatalf("fenced CAS by the holder with a stale revision = %v, %v; want false and no error", ok, err)
	}
	// The first holder stops renewing: its lease runs out and a newer holder takes it.
	if ok, err := s.Renew(ctx, first, 20*time.Millisecond); err != nil || !ok {
		t.Fatalf("Renew = %v, %v", ok, err)
	}
	second := AcquireEventually(t, s, "p/fenced", time.Minute)
	if ok, err := s.CompareAndSetFenced(ctx, first, "p/state", one.Rev, []byte("stale"), 0); ok || !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("fenced CAS under a lease that was taken over = %v, %v; want ErrLeaseLost", ok, err)
	}
	// A lease naming the current holder with an older fence is not the current lease either.
	forged := store.Lease{Key: second.Key, Holder: second.Holder, Fence: second.Fence - 1}
	if ok, err := s.CompareAndSetFenced(ctx, forged, "p/state", one.Rev, []byte("stale"), 0); ok || !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("fenced CAS with an older fence = %v, %v; want ErrLeaseLost", ok, err)
	}
	if it, _ := s.Get(ctx, "p/state"); string(it.Value) != "one" || it.Rev != one.Rev {
		t.Fatalf("a refused fenced write changed the value to %q", it.Value)
	}
	if ok, err := s.CompareAndSetFenced(ctx, second, "p/state", one.Rev, []byte("two"), time.Minute); err != nil || !ok {
		t.Fatalf("fenced CAS by the new holder = %v, %v; want true", ok, err)
	}
	if err := s.Release(ctx, second); err != nil {
		t.Fatal(err)
	}
	two, _ := s.Get(ctx, "p/state")
	if ok, err := s.CompareAndSetFenced(ctx, second, "p/state", two.Rev, []byte("late"), 0); ok || !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("fenced CAS under a released lease = %v, %v; want ErrLeaseLost", ok, err)
	}
	if it, _ := s.Get(ctx, "p/state"); string(it.Value) != "two" {
		t.Fatalf("after the refused writes: %q; want two", it.Value)
	}
}

// AcquireEventually polls until it gets the lease key (held by someone whose lease runs out), or fails the
// test when its context ends.
func AcquireEventually(t *testing.T, s store.Store, key string, ttl time.Duration) store.Lease {
	t.Helper()
	ctx := Ctx(t)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		l, ok, err := s.Acquire(ctx, key, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return l
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("lease %s never came free: %v", key, ctx.Err())
		}
	}
}

func waitWakes(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	if err := s.Set(ctx, "p/w", []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	old, _ := s.Get(ctx, "p/w")
	got := make(chan store.Item, 3)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			it, err := s.Wait(ctx, "p/w", old.Rev)
			got <- it
			errs <- err
		}()
	}
	if err := s.Set(ctx, "p/w", []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if it, err := <-got, <-errs; err != nil || string(it.Value) != "new" {
			t.Fatalf("Wait = %q, %v; want the new value", it.Value, err)
		}
	}
	// A revision that is already stale returns at once.
	if it, err := s.Wait(ctx, "p/w", old.Rev); err != nil || string(it.Value) != "new" {
		t.Fatalf("Wait on a stale revision = %q, %v; want the current value", it.Value, err)
	}
}

func waitExpiry(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	if err := s.Set(ctx, "p/e", []byte("short"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	it, _ := s.Get(ctx, "p/e")
	if it.Rev == "" {
		t.Skip("the value expired before the test read it back")
	}
	if after, err := s.Wait(ctx, "p/e", it.Rev); err != nil || after.Rev != "" {
		t.Fatalf("Wait across expiry = rev %q, %v; want absent", after.Rev, err)
	}
}

func waitContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(Ctx(t))
	done := make(chan error, 1)
	go func() {
		_, err := s.Wait(ctx, "p/never", "")
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Wait returned no error after its context was cancelled")
	}
}
