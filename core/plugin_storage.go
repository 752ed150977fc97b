package core

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
)

// pluginStorage is the sdk.Storage a host serves to a shared provider's plugin: the fleet store, with the
// plugin's keys scoped to "<provider>/plugin/<key>" so that no plugin reads another provider's state. Values
// are sealed by the store like every other value, and each call is bounded by the store's timeout. While
// the host holds the provider's fetch lease (its plugin refreshes), the plugin's compare-and-set is a write
// fenced with that lease: refused once the lease is lost, so a refresh that outlived its lease does not
// overwrite the state of the host that took the lease over.
type pluginStorage struct {
	provider string
	store    store.Store
	down     atomic.Int64               // calls that found the store unavailable, so the host can tell a plugin's error came from it
	last     atomic.Pointer[error]      // the last such call's error
	lease    atomic.Pointer[fetchLease] // the fetch lease this host holds while its plugin fetches; nil: none
}

// lastErr returns the store error of the last call that found the store unavailable.
func (s *pluginStorage) lastErr() error {
	if e := s.last.Load(); e != nil {
		return *e
	}
	return store.ErrUnavailable
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

// CompareAndSet implements sdk.Storage; plugin state has no expiry. Under the fetch lease it is fenced.
func (s *pluginStorage) CompareAndSet(ctx context.Context, key, rev string, value []byte) (bool, error) {
	var ok bool
	var err error
	if h := s.lease.Load(); h != nil {
		if h.isLost() {
			return false, s.refused()
		}
		ok, err = s.store.CompareAndSetFenced(ctx, h.l, s.key(key), rev, value, 0)
		if errors.Is(err, store.ErrLeaseLost) {
			h.lose("the store refused a write of the plugin under it")
			return false, s.refused()
		}
	} else {
		ok, err = s.store.CompareAndSet(ctx, s.key(key), rev, value, 0)
	}
	if err != nil {
		return false, s.fail(err)
	}
	return ok, nil
}

// refused is the error of a write refused because the host lost the fetch lease it was made under. It is
// Unavailable, not a lost compare-and-set: the plugin keeps what it has (a rotated sign-in may be the only
// working one) and reads the stored state again on its next call, when the newer holder has written its
// own or has left the state as it was.
func (s *pluginStorage) refused() error {
	return sdk.Unavailable("provider %s: the fleet's shared store refused the plugin's write: this host lost the provider's fetch lease while it refreshed (it ran out, or another host took it over), and the write could overwrite the newer holder's state; the stored state is read again on the next call", s.provider)
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
	switch { // a store that timed out wraps both store.ErrUnavailable and context.DeadlineExceeded
	case errors.Is(err, store.ErrUnavailable):
		s.last.Store(&err)
		s.down.Add(1)
		return sdk.Unavailable("provider %s keeps its sign-in in the fleet's shared store, which is unavailable (%v); it is not refreshed from a copy of this host's own, since another host may have rotated it; this clears when the store answers again", s.provider, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return sdk.Internal("provider %s: the fleet's shared store failed on the plugin's state: %v", s.provider, err)
}

var _ sdk.Storage = (*pluginStorage)(nil)

// stateDown counts the calls of p's plugin that found its state's store unavailable (0: no storage).
func (p *provider) stateDown() int64 {
	if s, ok := p.proc.storage.(*pluginStorage); ok {
		return s.down.Load()
	}
	return 0
}

// stateError turns the error of a plugin call that found its state's store unavailable (the count moved
// from before) into a StoreUnavailableError: that says nothing about the token endpoint, so the token
// breaker and the fleet's "endpoint down" hint leave it out.
func (p *provider) stateError(before int64, err error) error {
	s, ok := p.proc.storage.(*pluginStorage)
	if err == nil || !ok || s.down.Load() == before || !sdk.IsKind(err, sdk.KindUnavailable) {
		return err
	}
	return &StoreUnavailableError{Provider: p.name, Err: s.lastErr()}
}

// keepsState reports whether p's plugin keeps its state in the storage the host offered (Info.UsesStorage),
// starting the plugin when it has not started yet; a plugin that cannot start keeps nothing.
func (p *provider) keepsState(ctx context.Context) bool {
	if _, err := p.start(ctx); err != nil {
		return false
	}
	info, _ := p.proc.started()
	return info.UsesStorage
}

// configureWith configures src with options, offering it st first when st is not nil (StorageUser: a
// plugin process's Source serves it over the go-plugin broker, one in the host's process keeps it). A
// Source offered nothing, or that takes no storage, never reports UsesStorage.
func configureWith(ctx context.Context, src sdk.Source, options map[string]any, st sdk.Storage) (sdk.Info, error) {
	u, ok := src.(sdk.StorageUser)
	if ok && st != nil {
		u.UseStorage(st)
	}
	info, err := src.Configure(ctx, options)
	if !ok || st == nil {
		info.UsesStorage = false
	}
	return info, err
}
