package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenhost/tokenhost/store/seal"
)

// olderRev starts the revision Get returns for a value found under an older name (an older key's, or the
// unkeyed one of releases before keyed names); the backend revision of what the current name holds, a
// tombstone or nothing (""), follows it. To CompareAndSet and Wait it means "that, under the current
// name": a write replaces it, and a wait ends when a value is written there. Backend revisions never
// start with it (they are decimal or hex).
const olderRev = "^"

// innerRev returns the backend revision under the current name that a revision Get returned stands for.
func innerRev(rev string) string { return strings.TrimPrefix(rev, olderRev) }

// getOlder looks for key under its older names after the current name held nothing, or a tombstone of
// backend revision curRev; a tombstone found under an older name counts as nothing too. Plugin state, and
// any value stored without an expiry, moves to the current name (see migrate); a value with an expiry is
// returned from where it is, since it is written afresh under the current name when it is next fetched.
// again is migrate's.
func (s *sealedStore) getOlder(ctx context.Context, key, curRev string) (it Item, again bool, err error) {
	for _, old := range s.kr.OlderNames(key) {
		found, err := s.inner.Get(ctx, old)
		if err != nil {
			return Item{}, false, err
		}
		v, m, err := s.open(key, found)
		if errors.Is(err, seal.ErrWrongKey) {
			// A tombstone sealed with a key this host lacks says that the value moved under that key.
			return Item{}, false, fmt.Errorf("reading %s (provider %s): under an older name the store holds it, or a mark that it moved, sealed with a key this host lacks: %w",
				key, keyProvider(key), err)
		}
		if err != nil {
			return Item{}, false, err
		}
		if v.Rev == "" {
			continue
		}
		if keepsForever(key, m) {
			return s.migrate(ctx, key, curRev, old, found.Rev, v.Value, m)
		}
		return Item{Value: v.Value, Rev: olderRev + curRev}, false, nil
	}
	if isPluginState(key) {
		return Item{}, false, s.checkKeyID(ctx, key)
	}
	return Item{}, false, nil
}

// keepsForever reports whether the value of key, of Meta m, is one that no one writes again by itself:
// stored without an expiry, or (for a th1 value, which does not say) plugin state, which a plugin stores
// without one.
func keepsForever(key string, m seal.Meta) bool {
	if m.Version > 0 {
		return !m.Expires
	}
	return isPluginState(key)
}

// migrate moves value (of Meta m), found under the older name old at backend revision oldRev, to key's
// current name, which held nothing or a tombstone at revision curRev:
//
//  1. it writes value under the current name, sealed with the current key and the same Meta (a moved
//     value is the same value to seal.Versions; a th1 value starts a chain), by compare-and-set from
//     curRev; when that fails another host wrote there, and the caller reads again (again);
//  2. it replaces the old copy with a tombstone, sealed with the current key, by compare-and-set from
//     oldRev (no delete): a host that still reads the old name first (the old key is its current one, or
//     it runs a release from before keyed names) finds the tombstone and reads on under its older names,
//     or, lacking the current key, fails with seal.ErrWrongKey naming it, or, as a release that opens
//     only th1 values, fails to open it; none of them takes the store for empty and seeds it again;
//  3. when that compare-and-set fails, a host wrote under the old name after oldRev was read (one whose
//     current key the old one is), so the copy of step 1 is stale. It is withdrawn: turned into a
//     tombstone by compare-and-set from what step 1 wrote, and the caller reads the names again, finds
//     the newer value under the old name and moves that.
//
// Every write of a value is a compare-and-set under the name it was read from; a move writes its copy
// only where no value is, and keeps it only if the original was unchanged when it became a tombstone; so
// a value written meanwhile is never lost. A stale copy is visible under the current name from step 1 to
// step 3, two store calls. The reader that could do harm with it is a host about to redeem the refresh
// token of a sign-in, which hosts of this release and of the previous one do only under the provider's
// fetch lease, one lease for all of them (leaseName). A plugin reads its state for a token under that
// lease too, and so makes its moves under it: another host's refresh cannot make the copy stale unless
// this host lost the lease during the move, and the writes that can (a login; a host writing under the
// old name as its current one) redeem nothing. When the withdrawal fails because a write replaced the
// stale copy already, both names hold values newer than the one moved, and each host reads the one under
// its current name, as whenever hosts that disagree on the current key write. When the store fails
// between steps 1 and 2, the withdrawal is tried and the error returned; if that fails too, the old copy
// stays readable under the old name (as it did when a move deleted the old copy and the delete failed),
// which matters to hosts whose current key is the old one only.
func (s *sealedStore) migrate(ctx context.Context, key, curRev, old, oldRev string, value []byte, m seal.Meta) (Item, bool, error) {
	name := s.name(key)
	moved := m
	if m.Version == 0 {
		moved = s.ver.Next(key, &m, false)
	}
	sealed, err := s.kr.Seal(key, moved, value)
	if err != nil {
		return Item{}, false, err
	}
	ok, err := s.inner.CompareAndSet(ctx, name, curRev, sealed, 0)
	if err != nil || !ok {
		return Item{}, err == nil, err
	}
	s.noteKeyID(ctx)
	gone, err := s.kr.Seal(key, seal.Meta{Moved: true, Chain: moved.Chain, Version: moved.Version + 1}, nil)
	if err != nil {
		return Item{}, false, err
	}
	ok, err = s.inner.CompareAndSet(ctx, old, oldRev, gone, 0)
	if err != nil || !ok {
		if uerr := s.withdraw(ctx, name, sealed, gone); err == nil {
			err = uerr
		}
		return Item{}, err == nil, err
	}
	s.ver.Wrote(key, moved, value)
	it, err := s.inner.Get(ctx, name)
	if err != nil {
		return Item{}, false, err
	}
	v, _, err := s.open(key, it)
	return v, err == nil && v.Rev == "", err // a tombstone or nothing there: moved on meanwhile
}

// withdraw replaces the copy sealed that a move wrote under name with the tombstone gone, by
// compare-and-set from the revision of sealed, and leaves name alone once anything else was written there.
func (s *sealedStore) withdraw(ctx context.Context, name string, sealed, gone []byte) error {
	it, err := s.inner.Get(ctx, name)
	if err != nil || it.Rev == "" || !bytes.Equal(it.Value, sealed) {
		return err
	}
	_, err = s.inner.CompareAndSet(ctx, name, it.Rev, gone, 0)
	return err
}

// keyProvider returns the provider part of a logical key "provider/name".
func keyProvider(key string) string {
	provider, _, _ := strings.Cut(key, "/")
	return provider
}
