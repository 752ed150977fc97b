package core

import (
	"context"
	"errors"

	"github.com/tokenhost/tokenhost/sdk"
)

// pluginStorage is the sdk.Storage a host serves to a shared provider's plugin: the fleet store, with the
// plugin's keys scoped to "<provider>/plugin/<key>" so that no plugin reads another provider's state. Values
// are sealed by the store like every other value, and each call is bounded by the store's timeout.
type pluginStorage struct {
	provider string
	store    Store
}

func (s *pluginStorage) key(k string) string { return s.provider + "/plugin/" + k }

// Get implements sdk.Storage.
func (s *pluginStorage) Get(ctx context.Context, key string) ([]byte, string, error) {
	it, err := s.store.Get(ctx, s.key(key))
	if err != nil {
		return nil, "", s.fail(err)
	}
	return it.Value, it.Rev, nil
}

// CompareAndSet implements sdk.Storage; plugin state has no expiry.
func (s *pluginStorage) CompareAndSet(ctx context.Context, key, rev string, value []byte) (bool, error) {
	ok, err := s.store.CompareAndSet(ctx, s.key(key), rev, value, 0)
	if err != nil {
		return false, s.fail(err)
	}
	return ok, nil
}

// Delete implements sdk.Storage.
func (s *pluginStorage) Delete(ctx context.Context, key string) error {
	if err := s.store.Delete(ctx, s.key(key)); err != nil {
		return s.fail(err)
	}
	return nil
}

// fail turns a store error into the typed error the plugin acts on: Unavailable while the store cannot be
// reached (the plugin must not fall back to state of its own, which another host may already have spent).
func (s *pluginStorage) fail(err error) error {
	switch { // a store that timed out wraps both ErrStoreUnavailable and context.DeadlineExceeded
	case errors.Is(err, ErrStoreUnavailable):
		return sdk.Unavailable("provider %s keeps its sign-in in the fleet's shared store, which is unavailable (%v); it is not refreshed from a copy of this host's own, since another host may have rotated it; this clears when the store answers again", s.provider, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return sdk.Internal("provider %s: the fleet's shared store failed on the plugin's state: %v", s.provider, err)
}

var _ sdk.Storage = (*pluginStorage)(nil)
