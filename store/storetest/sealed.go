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

// Sealed returns, for one subtest, a fresh backend that several hosts share: raw is the backend itself
// (what someone with access to the backend, but not the keys, sees and can write), and host(keys) opens a sealed store over it
// with the encryption keys keys and a memory of its own, as one host of a fleet does. Both register
// their own cleanup.
type Sealed func(t *testing.T) (raw store.Store, host func(keys string) store.Store)

// RunSealed runs the tests of sealing over a backend: keyed names, rotation and upgrade moving stored
// state (leaving tombstones), refusing values written back, and hosts that disagree on the keys or run
// the previous release sharing leases and losing no write. Some subtests open hosts through store.Open with
// a backend, "storetest-hooked", that the first of them registers.
func RunSealed(t *testing.T, open Sealed) {
	t.Run("NamesAreKeyed", func(t *testing.T) { namesAreKeyed(t, open) })
	t.Run("RotationMovesPluginState", func(t *testing.T) { rotationMoves(t, open) })
	t.Run("UnkeyedNameMoves", func(t *testing.T) { unkeyedNameMoves(t, open) })
	t.Run("ReplayRefused", func(t *testing.T) { replayRefused(t, open) })
	t.Run("ExpiringKeyAfterExpiry", func(t *testing.T) { expiringAfterExpiry(t, open) })
	t.Run("MixedKeysShareLease", func(t *testing.T) { mixedKeysShareLease(t, open) })
	t.Run("MoveKeepsConcurrentWrite", func(t *testing.T) { moveKeepsConcurrentWrite(t, open) })
	t.Run("TombstoneNamesItsKey", func(t *testing.T) { tombstoneNamesItsKey(t, open) })
	t.Run("PreviousReleaseRefusesTombstone", func(t *testing.T) { previousReleaseRefusesTombstone(t, open) })
}

const (
	signIn = "gateway/plugin/signin-alice@example.com"
	token  = "gateway/access-token"
)

func newKey(t *testing.T) string {
	t.Helper()
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// nameUnder is the backend name of key under the encryption key k.
func nameUnder(t *testing.T, k, key string) string {
	t.Helper()
	kr, err := seal.ParseKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr.Name(key)
}

func mustSet(t *testing.T, s store.Store, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Set(Ctx(t), key, []byte(value), ttl); err != nil {
		t.Fatal(err)
	}
}

// mustGet reads key and fails unless it holds want; it returns the revision.
func mustGet(t *testing.T, s store.Store, key, want string) string {
	t.Helper()
	it, err := s.Get(Ctx(t), key)
	if err != nil || string(it.Value) != want || it.Rev == "" {
		t.Fatalf("Get(%s) = %q, %v; want %q", key, it.Value, err, want)
	}
	return it.Rev
}

// present reports whether the backend holds something under name.
func present(t *testing.T, raw store.Store, name string) bool {
	t.Helper()
	it, err := raw.Get(Ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return it.Rev != ""
}

// namesAreKeyed: two hosts with different encryption keys store one logical key under two names, neither
// of them the unkeyed hash, each showing the provider only; each reads its own value.
func namesAreKeyed(t *testing.T, open Sealed) {
	raw, host := open(t)
	k1, k2 := newKey(t), newKey(t)
	a, b := host(k1), host(k2)
	mustSet(t, a, signIn, "A", 0)
	mustSet(t, b, signIn, "B", 0)
	n1, n2 := nameUnder(t, k1, signIn), nameUnder(t, k2, signIn)
	if n1 == n2 || !present(t, raw, n1) || !present(t, raw, n2) {
		t.Fatalf("names under two keys: %q and %q; want two different names, both stored", n1, n2)
	}
	for _, n := range []string{n1, n2} {
		if !strings.HasPrefix(n, "gateway:") || strings.Contains(n, "alice") || strings.Contains(n, "signin") {
			t.Fatalf("name %q shows more than the provider", n)
		}
	}
	if present(t, raw, sealtest.LegacyName(signIn)) {
		t.Fatal("a value is stored under the unkeyed name, which anyone can compute for a guessed key name")
	}
	mustGet(t, a, signIn, "A")
	mustGet(t, b, signIn, "B")
}

// rotationMoves: after a rotation (new key first, old key second) a host reads plugin state stored under
// the old key, moves it under the new name (a host without the old key reads it then), and writes it by
// compare-and-set; an expiring value is read where it is, and a compare-and-set or a wait with its
// revision works on the new name.
func rotationMoves(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	oldKey, newKeyText := newKey(t), newKey(t)
	before := host(oldKey)
	mustSet(t, before, signIn, "signin-1", 0)
	mustSet(t, before, signIn, "signin-2", 0)
	mustSet(t, before, token, "tok-1", time.Minute)

	rotated := host(newKeyText + "," + oldKey)
	rev := mustGet(t, rotated, signIn, "signin-2")
	if !isTombstone(t, raw, newKeyText, nameUnder(t, oldKey, signIn), signIn) || !present(t, raw, nameUnder(t, newKeyText, signIn)) {
		t.Fatal("the plugin state was not moved from the old key's name (now a tombstone) to the new one's")
	}
	if ok, err := rotated.CompareAndSet(ctx, signIn, rev, []byte("signin-3"), 0); err != nil || !ok {
		t.Fatalf("CompareAndSet with the revision of the moved state = %v, %v; want true", ok, err)
	}
	mustGet(t, host(newKeyText), signIn, "signin-3")

	rev = mustGet(t, rotated, token, "tok-1")
	waited := make(chan store.Item, 1)
	go func() {
		it, err := rotated.Wait(ctx, token, rev)
		if err != nil {
			t.Error(err)
		}
		waited <- it
	}()
	other := host(newKeyText + "," + oldKey)
	if ok, err := other.CompareAndSet(ctx, token, rev, []byte("tok-2"), time.Minute); err != nil || !ok {
		t.Fatalf("CompareAndSet with the revision of a value under the old name = %v, %v; want true", ok, err)
	}
	if it := <-waited; string(it.Value) != "tok-2" {
		t.Fatalf("Wait with the revision of a value under the old name = %q; want the value written under the new one", it.Value)
	}
	mustGet(t, host(newKeyText), token, "tok-2")
}

// unkeyedNameMoves: plugin state a release before keyed names stored (th1, unkeyed name) is read and
// moved under the keyed name; an expiring value there is read.
func unkeyedNameMoves(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	k := newKey(t)
	legacy := sealtest.LegacyName(signIn)
	if err := raw.Set(ctx, legacy, sealtest.SealV1(t, k, signIn, []byte("old-signin")), 0); err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, sealtest.LegacyName(token), sealtest.SealV1(t, k, token, []byte("old-tok")), time.Minute); err != nil {
		t.Fatal(err)
	}
	mustGet(t, host(k), signIn, "old-signin")
	if !isTombstone(t, raw, k, legacy, signIn) {
		t.Fatal("the unkeyed copy of the plugin state was not replaced with a tombstone")
	}
	it, err := raw.Get(ctx, nameUnder(t, k, signIn))
	if err != nil || !strings.HasPrefix(string(it.Value), "th2.") {
		t.Fatalf("the moved state is %.4q, %v; want a th2 value under the keyed name", it.Value, err)
	}
	mustGet(t, host(k), signIn, "old-signin")
	mustGet(t, host(k), token, "old-tok")
}

// replayRefused: sealed bytes copied from the store and written back after a newer value are refused by
// every host that read (or wrote) the newer one, with an error naming the provider and not the value; a
// host that never saw the newer one cannot tell. A write over the old value ends the refusals.
func replayRefused(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	k := newKey(t)
	name := nameUnder(t, k, signIn)
	a, b := host(k), host(k)
	mustSet(t, a, signIn, "signin-v1", 0)
	copied, err := raw.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, a, signIn, "signin-v2", 0)
	mustGet(t, b, signIn, "signin-v2")
	if err := raw.Set(ctx, name, copied.Value, 0); err != nil {
		t.Fatal(err)
	}
	for who, s := range map[string]store.Store{"the writer": a, "a reader": b} {
		_, err := s.Get(ctx, signIn)
		if !errors.Is(err, seal.ErrRolledBack) || !strings.Contains(err.Error(), "gateway") || !strings.Contains(err.Error(), "rolled back") || strings.Contains(err.Error(), "signin-v") {
			t.Fatalf("%s reading a value written back = %v; want ErrRolledBack naming the provider, not the value", who, err)
		}
	}
	mustGet(t, host(k), signIn, "signin-v1") // the documented limit: a fresh host cannot tell
	mustSet(t, a, signIn, "signin-v3", 0)
	mustGet(t, b, signIn, "signin-v3")
	mustGet(t, a, signIn, "signin-v3")
}

// expiringAfterExpiry: an expiring value written back within its chain is refused; once the key has
// expired, a host that never saw it writes it afresh and the hosts that saw the old chain read it.
func expiringAfterExpiry(t *testing.T, open Sealed) {
	raw, host := open(t)
	ctx := Ctx(t)
	k := newKey(t)
	name := nameUnder(t, k, token)
	a, b := host(k), host(k)
	mustSet(t, a, token, "tok-1", time.Minute)
	first, err := raw.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, a, token, "tok-2", time.Minute)
	mustSet(t, a, token, "tok-3", time.Minute)
	mustGet(t, b, token, "tok-3")
	if err := raw.Set(ctx, name, first.Value, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, token); !errors.Is(err, seal.ErrRolledBack) {
		t.Fatalf("an expiring value written back within its chain = %v; want ErrRolledBack", err)
	}
	mustSet(t, a, token, "tok-4", 50*time.Millisecond)
	for { // until the key has expired
		it, err := raw.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if it.Rev == "" {
			break
		}
		if _, err := raw.Wait(ctx, name, it.Rev); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(t, host(k), token, "fresh", time.Minute)
	mustGet(t, b, token, "fresh")
	mustGet(t, a, token, "fresh")
}
