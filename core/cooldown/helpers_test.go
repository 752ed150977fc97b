package cooldown

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// tapStore is a store that reports its callers' Get and Wait calls. A book's watcher calls Wait again only
// after it has recorded what its previous Wait returned, so a Wait call is the event that tells a test the
// book's memory holds the value of that revision.
type tapStore struct {
	store.Store
	gets atomic.Int64

	mu      sync.Mutex
	waits   []string      // the rev of every Wait call, in order
	active  int           // Wait calls that have not returned
	changed chan struct{} // closed and replaced at every change of waits or active
}

func tap(s store.Store) *tapStore { return &tapStore{Store: s, changed: make(chan struct{})} }

func (s *tapStore) Get(ctx context.Context, key string) (store.Item, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *tapStore) Wait(ctx context.Context, key, rev string) (store.Item, error) {
	s.note(func() { s.waits = append(s.waits, rev); s.active++ })
	defer s.note(func() { s.active-- })
	return s.Store.Wait(ctx, key, rev)
}

// note changes the record under the lock and wakes awaitWait.
func (s *tapStore) note(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
	close(s.changed)
	s.changed = make(chan struct{})
}

// await blocks until cond, called under the lock with the Wait revs seen so far and the Wait calls in
// progress, holds; ctx bounds it.
func (s *tapStore) await(t *testing.T, ctx context.Context, what string, cond func(waits []string, active int) bool) {
	t.Helper()
	for {
		s.mu.Lock()
		ok, ch := cond(s.waits, s.active), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// sawValue is a condition for await: a Wait call on a revision other than "" came after the first n calls;
// that is, the watcher recorded a value.
func sawValue(n int) func([]string, int) bool {
	return func(waits []string, _ int) bool {
		for _, r := range waits[min(n, len(waits)):] {
			if r != "" {
				return true
			}
		}
		return false
	}
}

// sawAbsent is a condition for await: a Wait call on "" came after the first n calls (the watcher recorded
// that the key is gone).
func sawAbsent(n int) func([]string, int) bool {
	return func(waits []string, _ int) bool {
		for _, r := range waits[min(n, len(waits)):] {
			if r == "" {
				return true
			}
		}
		return false
	}
}

// calls returns how many Wait calls the store has seen.
func (s *tapStore) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waits)
}

// flakyStore fails every call with an error wrapping store.ErrUnavailable while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

// errDown is what a flakyStore that is down answers.
var errDown = fmt.Errorf("redis at 127.0.0.1:1: connection refused: %w", store.ErrUnavailable)

func (s *flakyStore) Get(ctx context.Context, key string) (store.Item, error) {
	if s.down.Load() {
		return store.Item{}, errDown
	}
	return s.Store.Get(ctx, key)
}

func (s *flakyStore) CompareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	if s.down.Load() {
		return false, errDown
	}
	return s.Store.CompareAndSet(ctx, key, rev, value, ttl)
}

func (s *flakyStore) Delete(ctx context.Context, key string) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Delete(ctx, key)
}

func (s *flakyStore) Wait(ctx context.Context, key, rev string) (store.Item, error) {
	if s.down.Load() {
		return store.Item{}, errDown
	}
	return s.Store.Wait(ctx, key, rev)
}

// records is a slog handler that keeps what is logged.
type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// at returns the messages logged at level, each followed by its attributes.
func (r *records) at(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.got {
		if rec.Level != level {
			continue
		}
		line := rec.Message
		rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		out = append(out, line)
	}
	return out
}
