package core

import (
	"context"
	"strings"

	"github.com/tokenhost/tokenhost/store/seal"
)

// olderRev starts the revision Get returns for a value found under an older name (an older key's, or the
// unkeyed one of releases before keyed names): to CompareAndSet and Wait it means "nothing under the
// current name yet", so a write replaces the value under the current name and a wait ends when one is
// written there. Backend revisions never start with it (they are decimal or hex).
const olderRev = "^"

// innerRev returns the backend revision that a revision Get returned stands for under the current name.
func innerRev(rev string) string {
	if strings.HasPrefix(rev, olderRev) {
		return ""
	}
	return rev
}

// getOlder looks for key under its older names after the current name held nothing. Plugin state, and
// any value stored without an expiry, moves to the current name (see migrate); a value with an expiry is
// returned from where it is, since it is written afresh under the current name when it is next fetched.
func (s *sealedStore) getOlder(ctx context.Context, key string) (Item, error) {
	for _, old := range s.kr.OlderNames(key) {
		it, err := s.inner.Get(ctx, old)
		if err != nil {
			return Item{}, err
		}
		if it.Rev == "" {
			continue
		}
		v, m, err := s.open(key, it)
		if err != nil {
			return Item{}, err
		}
		if keepsForever(key, m) {
			return s.migrate(ctx, key, old, v.Value, m)
		}
		return Item{Value: v.Value, Rev: olderRev + it.Rev}, nil
	}
	if isPluginState(key) {
		return Item{}, s.checkKeyID(ctx, key)
	}
	return Item{}, nil
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

// migrate moves value (of Meta m), found under the older name old, to key's current name: it writes it
// there, sealed under the current key as the next version, only if the current name is still empty, and
// then deletes the old copy; and it returns what the current name holds then (another host's move, or
// a write since).
func (s *sealedStore) migrate(ctx context.Context, key, old string, value []byte, m seal.Meta) (Item, error) {
	name := s.name(key)
	next := s.ver.Next(key, &m, false)
	sealed, err := s.kr.Seal(key, next, value)
	if err != nil {
		return Item{}, err
	}
	ok, err := s.inner.CompareAndSet(ctx, name, "", sealed, 0)
	if err != nil {
		return Item{}, err
	}
	if ok {
		s.ver.Wrote(key, next, sealed)
		s.noteKeyID(ctx)
		// A copy left behind when this fails is never read (the current name is found first) and goes
		// with the key's next Delete.
		_ = s.inner.Delete(ctx, old)
	}
	it, err := s.inner.Get(ctx, name)
	if err != nil {
		return Item{}, err
	}
	v, _, err := s.open(key, it)
	return v, err
}
