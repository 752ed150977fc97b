package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/sealtest"
	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
)

// keyID is the id of the encryption key k.
func keyID(t *testing.T, k string) string {
	t.Helper()
	kr, err := seal.ParseKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr.Current()
}

// isTombstone reports whether the backend holds, under name, a tombstone of key that the keys k open.
func isTombstone(t *testing.T, raw store.Store, k, name, key string) bool {
	t.Helper()
	it, err := raw.Get(Ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	v, m, err := kr.Open(key, it.Value)
	return it.Rev != "" && err == nil && m.Moved && len(v) == 0
}

// wantWrongKey fails unless reading key from s fails with seal.ErrWrongKey naming the key id id.
func wantWrongKey(t *testing.T, who string, s store.Store, key, id string) {
	t.Helper()
	it, err := s.Get(Ctx(t), key)
	if !errors.Is(err, seal.ErrWrongKey) || !strings.Contains(err.Error(), id) {
		t.Fatalf("%s reading a value moved under key id %s = %q rev %q, %v; want ErrWrongKey naming that id", who, id, it.Value, it.Rev, err)
	}
}

// mixedKeysShareLease: hosts holding different keys (one with [A], one with [B, A], as during a
// rotation) take one lease per logical key, and so does a host of a release before keyed names, which
// named the lease with the unkeyed name.
func mixedKeysShareLease(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	kA, kB := newKey(t), newKey(t)
	a, b := host(kA), host(kB+","+kA)
	acquire := func(who string, s store.Store, want bool) store.Lease {
		t.Helper()
		l, ok, err := s.Acquire(ctx, token, time.Minute)
		if err != nil || ok != want {
			t.Fatalf("%s: Acquire = %v, %v; want %v", who, ok, err, want)
		}
		return l
	}
	l := acquire("the host with [A]", a, true)
	acquire("the host with [B, A] while [A] holds the lease", b, false)
	if err := a.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	l = acquire("the host with [B, A]", b, true)
	acquire("the host with [A] while [B, A] holds the lease", a, false)
	if err := b.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	old, ok, err := raw.Acquire(ctx, sealtest.LegacyName(token)+":lease", time.Minute)
	if err != nil || !ok {
		t.Fatalf("the previous release's lease name: Acquire = %v, %v", ok, err)
	}
	acquire("the host with [A] while a host of the previous release holds the lease", a, false)
	acquire("the host with [B, A] while a host of the previous release holds the lease", b, false)
	if err := raw.Release(ctx, old); err != nil {
		t.Fatal(err)
	}
	acquire("the host with [A] after the previous release's host gave the lease back", a, true)
}

// moveKeepsConcurrentWrite: a host with [B, A] moves plugin state from A's name to B's; the host with
// [A], for which A's name is current, writes a newer value there after the mover read it and before the
// mover replaced it with a tombstone. The newer value is not lost: the mover withdraws its stale copy and
// moves the newer value. Afterwards the host with [A] is told it lacks key B, and a host without the
// hint of the fleet's key id is too.
func moveKeepsConcurrentWrite(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	kA, kB := newKey(t), newKey(t)
	a := host(kA)
	mustSet(t, a, signIn, "signin-1", 0)
	nameB := nameUnder(t, kB, signIn)
	wrote := false
	b := hookedHost(t, raw, kB+","+kA, func(name string) {
		if name == nameB && !wrote {
			wrote = true
			mustSet(t, a, signIn, "signin-2", 0)
		}
	})
	rev := mustGet(t, b, signIn, "signin-2")
	if !wrote {
		t.Fatal("the host with [B, A] did not write under B's name; the test wrote nothing between its steps")
	}
	if !isTombstone(t, raw, kB, nameUnder(t, kA, signIn), signIn) {
		t.Fatal("A's name does not hold a tombstone after the move")
	}
	if ok, err := b.CompareAndSet(ctx, signIn, rev, []byte("signin-3"), 0); err != nil || !ok {
		t.Fatalf("CompareAndSet with the revision of the moved state = %v, %v; want true", ok, err)
	}
	mustGet(t, host(kB+","+kA), signIn, "signin-3")
	wantWrongKey(t, "the host with [A]", a, signIn, keyID(t, kB))
	if err := raw.Delete(ctx, "tokenhost:key-id"); err != nil {
		t.Fatal(err)
	}
	wantWrongKey(t, "a fresh host with [A], without the key-id hint", host(kA), signIn, keyID(t, kB))
}

// tombstoneNamesItsKey: plugin state of a release before keyed names (th1 under the unkeyed name), moved
// by a host with [B, A], leaves a tombstone there that names key B: hosts with [C] or [A] are told they
// lack it, even without the hint of the fleet's key id, instead of finding the store empty. A tombstone
// under a host's current name counts as absent for its compare-and-set on "".
func tombstoneNamesItsKey(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	kA, kB, kC := newKey(t), newKey(t), newKey(t)
	legacy := sealtest.LegacyName(signIn)
	if err := raw.Set(ctx, legacy, sealtest.SealV1(t, kA, signIn, []byte("old-signin")), 0); err != nil {
		t.Fatal(err)
	}
	mustGet(t, host(kB+","+kA), signIn, "old-signin")
	if !isTombstone(t, raw, kB, legacy, signIn) {
		t.Fatal("the unkeyed name does not hold a tombstone sealed with key B after the move")
	}
	if err := raw.Delete(ctx, "tokenhost:key-id"); err != nil {
		t.Fatal(err)
	}
	wantWrongKey(t, "a host with [C]", host(kC), signIn, keyID(t, kB))
	wantWrongKey(t, "a host with [A]", host(kA), signIn, keyID(t, kB))

	// A host with [A, B] moves it back under A's name; when that copy is gone, a host with [B, A] finds
	// tombstones only, and writes on absent over the one under its current name.
	mustGet(t, host(kA+","+kB), signIn, "old-signin")
	if !isTombstone(t, raw, kA, nameUnder(t, kB, signIn), signIn) {
		t.Fatal("B's name does not hold a tombstone sealed with key A after the move back")
	}
	if err := raw.Delete(ctx, nameUnder(t, kA, signIn)); err != nil {
		t.Fatal(err)
	}
	ba := host(kB + "," + kA)
	if it, err := ba.Get(ctx, signIn); err != nil || it.Rev != "" {
		t.Fatalf("a host with [B, A] finding tombstones only = %q rev %q, %v; want nothing", it.Value, it.Rev, err)
	}
	if ok, err := ba.CompareAndSet(ctx, signIn, "", []byte("fresh-signin"), 0); err != nil || !ok {
		t.Fatalf("CompareAndSet on absent over the tombstone = %v, %v; want true", ok, err)
	}
	mustGet(t, host(kB+","+kA), signIn, "fresh-signin")
}

// previousReleaseRefusesTombstone: after plugin state of the previous release moved, what its unkeyed
// name holds does not open for that release (th1 only), which fails instead of seeding the store again.
func previousReleaseRefusesTombstone(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	k := newKey(t)
	legacy := sealtest.LegacyName(signIn)
	if err := raw.Set(ctx, legacy, sealtest.SealV1(t, k, signIn, []byte("old-signin")), 0); err != nil {
		t.Fatal(err)
	}
	before, err := raw.Get(ctx, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := sealtest.OpenV1(t, k, signIn, before.Value); err != nil || string(v) != "old-signin" {
		t.Fatalf("the previous release's reader on its own value = %q, %v", v, err)
	}
	mustGet(t, host(k), signIn, "old-signin")
	after, err := raw.Get(ctx, legacy)
	if err != nil || after.Rev == "" {
		t.Fatalf("the unkeyed name after the move: rev %q, %v; want a tombstone", after.Rev, err)
	}
	v, err := sealtest.OpenV1(t, k, signIn, after.Value)
	if err == nil || !strings.Contains(err.Error(), "not a sealed tokenhost value") {
		t.Fatalf("the previous release's reader on the tombstone = %q, %v; want its \"not a sealed tokenhost value\" error", v, err)
	}
}
