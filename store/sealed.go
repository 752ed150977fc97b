package store

import (
	"context"
	"fmt"
	"time"

	"github.com/tokenhost/tokenhost/store/seal"
)

// sealedStore encrypts values and hides key names before they reach a backend, so that nothing a shared
// store holds is a token in clear and its key names reveal provider names at most. Every value carries
// its key's version, and the store refuses one older than a value this process has seen (seal.Versions).
// A value stored before the current key (or before names were keyed) is found under its older name;
// sealed_older.go moves it, and leaves a tombstone where it was. Leases are named without a key.
type sealedStore struct {
	inner Store
	kr    *seal.Keyring
	ver   *seal.Versions
}

// newSealedStore seals inner's values and names with the keys of kr.
func newSealedStore(inner Store, kr *seal.Keyring) *sealedStore {
	return &sealedStore{inner: inner, kr: kr, ver: seal.NewVersions()}
}

// setTries bounds the compare-and-set rounds of one Set while other hosts keep writing the key.
const setTries = 8

// name returns the backend's name for the logical key: every method that touches a key's value (and
// its waiters) uses it, so they agree on one name.
func (s *sealedStore) name(key string) string { return s.kr.Name(key) }

// leaseName returns the backend's name for the lease of the logical key: seal.LeaseName, which no key
// enters, so that hosts holding different keys (during a rotation) and hosts of releases before keyed
// names (during an upgrade), which named leases the same way, all take one lease. A lease holds a random
// holder id and no secret, and the one lease tokenhost takes per provider is named "<provider>/access-
// token", so its unkeyed name shows nothing but the provider, which every name shows.
func (s *sealedStore) leaseName(key string) string { return seal.LeaseName(key) }

func (s *sealedStore) Get(ctx context.Context, key string) (Item, error) {
	if err := checkKey(key); err != nil {
		return Item{}, err
	}
	for range setTries {
		it, again, err := s.get(ctx, key)
		if !again || err != nil {
			return it, err
		}
	}
	return Item{}, fmt.Errorf("reading %s (provider %s): other hosts moved or wrote it during each of %d attempts; try again", key, keyProvider(key), setTries)
}

// get is one reading of key: under its current name, or else under its older names (getOlder). again
// reports that a move found the value changed and was undone, so the names are to be read again.
func (s *sealedStore) get(ctx context.Context, key string) (it Item, again bool, err error) {
	cur, err := s.inner.Get(ctx, s.name(key))
	if err != nil {
		return Item{}, false, err
	}
	v, m, err := s.open(key, cur)
	if err != nil || (cur.Rev != "" && !m.Moved) {
		return v, false, err
	}
	return s.getOlder(ctx, key, cur.Rev)
}

// Set writes by compare-and-set over what is stored, so that the version it writes follows the one it
// replaces even while other hosts write the key.
func (s *sealedStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	name := s.name(key)
	for range setTries {
		cur, err := s.inner.Get(ctx, name)
		if err != nil {
			return err
		}
		ok, err := s.writeOver(ctx, key, name, cur, value, ttl, s.inner.CompareAndSet)
		if ok || err != nil {
			return err
		}
	}
	return fmt.Errorf("setting %s: other hosts changed it during each of %d attempts; try again", key, setTries)
}

func (s *sealedStore) CompareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	return s.compareAndSet(ctx, key, rev, value, ttl, s.inner.CompareAndSet)
}

// casFunc is a backend's compare-and-set of a sealed value under a backend name.
type casFunc func(ctx context.Context, name, rev string, sealed []byte, ttl time.Duration) (bool, error)

// compareAndSet is CompareAndSet writing with cas: it reads the value stored at key's name, whose
// version comes next, and writes only if its revision is still rev.
func (s *sealedStore) compareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration, cas casFunc) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	name, want := s.name(key), innerRev(rev)
	cur, err := s.inner.Get(ctx, name)
	if err != nil {
		return false, err
	}
	if cur.Rev != want && (want != "" || !s.tombstone(key, cur)) {
		return false, nil // a tombstone counts as absent: a write "over nothing" replaces it
	}
	return s.writeOver(ctx, key, name, cur, value, ttl, cas)
}

// writeOver seals value as the version after cur's (the item at name; a tombstone's chain goes on too)
// and stores it with cas if cur is still there.
func (s *sealedStore) writeOver(ctx context.Context, key, name string, cur Item, value []byte, ttl time.Duration, cas casFunc) (bool, error) {
	var stored *seal.Meta
	if cur.Rev != "" {
		if _, m, err := s.open(key, cur); err == nil {
			stored = &m
		}
	}
	m := s.ver.Next(key, stored, ttl > 0)
	sealed, err := s.kr.Seal(key, m, value)
	if err != nil {
		return false, err
	}
	ok, err := cas(ctx, name, cur.Rev, sealed, ttl)
	if ok {
		s.ver.Wrote(key, m, value)
		if (cur.Rev == "" || stored != nil && stored.Moved) && isPluginState(key) {
			s.noteKeyID(ctx)
		}
	}
	return ok, err
}

// Delete removes the key under its current name and every older one, so that no older copy is found
// afterwards.
func (s *sealedStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	for _, name := range append([]string{s.name(key)}, s.kr.OlderNames(key)...) {
		if err := s.inner.Delete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *sealedStore) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, bool, error) {
	if err := checkKey(key); err != nil {
		return Lease{}, false, err
	}
	l, ok, err := s.inner.Acquire(ctx, s.leaseName(key), ttl)
	l.Key = key
	return l, ok, err
}

func (s *sealedStore) Release(ctx context.Context, l Lease) error {
	l.Key = s.leaseName(l.Key)
	return s.inner.Release(ctx, l)
}

func (s *sealedStore) Renew(ctx context.Context, l Lease, ttl time.Duration) (bool, error) {
	l.Key = s.leaseName(l.Key)
	return s.inner.Renew(ctx, l, ttl)
}

func (s *sealedStore) CompareAndSetFenced(ctx context.Context, l Lease, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	l.Key = s.leaseName(l.Key)
	return s.compareAndSet(ctx, key, rev, value, ttl, func(ctx context.Context, name, rev string, sealed []byte, ttl time.Duration) (bool, error) {
		return s.inner.CompareAndSetFenced(ctx, l, name, rev, sealed, ttl)
	})
}

func (s *sealedStore) Wait(ctx context.Context, key, rev string) (Item, error) {
	if err := checkKey(key); err != nil {
		return Item{}, err
	}
	name, want := s.name(key), innerRev(rev)
	for {
		it, err := s.inner.Wait(ctx, name, want)
		if err != nil {
			return Item{}, err
		}
		v, m, err := s.open(key, it)
		if err != nil || !m.Moved {
			return v, err
		}
		want = it.Rev // a tombstone is no value: wait on for one
	}
}

func (s *sealedStore) Close() error { return s.inner.Close() }

// open decrypts an item read from the backend and checks that it is not older than a value seen before;
// an absent item stays absent, and a tombstone (m.Moved) is returned as absent, unchecked.
func (s *sealedStore) open(key string, it Item) (Item, seal.Meta, error) {
	if it.Rev == "" {
		return it, seal.Meta{}, nil
	}
	v, m, err := s.kr.Open(key, it.Value)
	if err != nil || m.Moved {
		return Item{}, m, err
	}
	if err := s.ver.Opened(key, m, v); err != nil {
		return Item{}, seal.Meta{}, err
	}
	return Item{Value: v, Rev: it.Rev}, m, nil
}

// tombstone reports whether it, read under one of key's names, is a tombstone this host can open.
func (s *sealedStore) tombstone(key string, it Item) bool {
	if it.Rev == "" {
		return false
	}
	_, m, err := s.kr.Open(key, it.Value)
	return err == nil && m.Moved
}
