package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// StoreStatus is the health of the store a host shares tokens through, for /readyz, /providers and
// metrics.
type StoreStatus struct {
	// Configured reports whether the host shares tokens through a store at all.
	Configured bool
	// Up is false from the first store call that found the store unavailable until one succeeds again.
	Up bool
	// Since is when the store became unavailable (zero while Up).
	Since time.Time
	// LastError is the error that made the store unavailable, free of secrets ("" while Up).
	LastError string
}

// String is "ok", "unavailable since <time>: <error>", or "" when no store is configured.
func (s StoreStatus) String() string {
	switch {
	case !s.Configured:
		return ""
	case s.Up:
		return "ok"
	}
	return "unavailable since " + s.Since.UTC().Format(time.RFC3339) + ": " + s.LastError
}

// StoreStatus returns the health of the host's shared store; it never waits for the store.
func (h *Host) StoreStatus() StoreStatus {
	if h.health == nil {
		return StoreStatus{}
	}
	return h.health.status()
}

// storeProbeEvery is how often a host whose store is unavailable checks whether it is back, so that its
// status says so even while no token fetch needs the store.
const storeProbeEvery = time.Second

// storeHealth follows the outcome of a host's store calls: it logs once when the store becomes unavailable
// and once when it works again, and while it is unavailable probes it in the background.
type storeHealth struct {
	log   *slog.Logger
	probe func(ctx context.Context) error

	mu      sync.Mutex
	down    bool
	since   time.Time
	lastErr string
	probing bool
	stop    chan struct{}
}

func newStoreHealth(log *slog.Logger, probe func(context.Context) error) *storeHealth {
	return &storeHealth{log: log, probe: probe, stop: make(chan struct{})}
}

// note records the outcome of one store call: nil is a working store; an error wrapping
// store.ErrUnavailable an unavailable one; any other error (a context ended by the caller, a value sealed
// under another key) says nothing about the store's reachability.
func (s *storeHealth) note(err error) {
	switch {
	case err == nil:
		s.mu.Lock()
		was := s.down
		s.down, s.lastErr, s.since = false, "", time.Time{}
		s.mu.Unlock()
		if was {
			s.log.Info("shared store works again; sharing tokens with the fleet again")
		}
	case errors.Is(err, store.ErrUnavailable):
		s.mu.Lock()
		first := !s.down
		if first {
			s.down, s.since, s.lastErr = true, time.Now(), err.Error()
		}
		startProbe := first && !s.probing
		if startProbe {
			s.probing = true
		}
		s.mu.Unlock()
		if first {
			s.log.Warn("shared store unavailable; this host fetches its own tokens until it is back", "error", err.Error())
		}
		if startProbe {
			go s.probeUntilUp()
		}
	}
}

// probeUntilUp checks the store every storeProbeEvery until it answers or the host closes.
func (s *storeHealth) probeUntilUp() {
	t := time.NewTicker(storeProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.note(s.probe(context.Background()))
		s.mu.Lock()
		if !s.down {
			s.probing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

func (s *storeHealth) status() StoreStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StoreStatus{Configured: true, Up: !s.down, Since: s.since, LastError: s.lastErr}
}

func (s *storeHealth) close() { close(s.stop) }

// watchedStore is a store.Store whose every outcome is reported to a storeHealth.
type watchedStore struct {
	store.Store
	h *storeHealth
}

func (w *watchedStore) Get(ctx context.Context, key string) (store.Item, error) {
	it, err := w.Store.Get(ctx, key)
	w.h.note(err)
	return it, err
}

func (w *watchedStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := w.Store.Set(ctx, key, value, ttl)
	w.h.note(err)
	return err
}

func (w *watchedStore) CompareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := w.Store.CompareAndSet(ctx, key, rev, value, ttl)
	w.h.note(err)
	return ok, err
}

func (w *watchedStore) Acquire(ctx context.Context, key string, ttl time.Duration) (store.Lease, bool, error) {
	l, ok, err := w.Store.Acquire(ctx, key, ttl)
	w.h.note(err)
	return l, ok, err
}

func (w *watchedStore) Renew(ctx context.Context, l store.Lease, ttl time.Duration) (bool, error) {
	ok, err := w.Store.Renew(ctx, l, ttl)
	w.h.note(err)
	return ok, err
}

func (w *watchedStore) CompareAndSetFenced(ctx context.Context, l store.Lease, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := w.Store.CompareAndSetFenced(ctx, l, key, rev, value, ttl)
	w.h.note(err)
	return ok, err
}

// watchStore wraps s so that h follows its health; the probe reads a key no one writes.
func watchStore(s store.Store, log *slog.Logger) (store.Store, *storeHealth) {
	h := newStoreHealth(log, func(ctx context.Context) error {
		_, err := s.Get(ctx, "tokenhost/health-probe")
		return err
	})
	return &watchedStore{Store: s, h: h}, h
}
