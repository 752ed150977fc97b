package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

func init() { Register("local", func(Config) (Store, error) { return NewMemory(), nil }) }

// localStore is the in-memory backend, which the "local" backend opens: memory of this one process, with
// the semantics of the shared backends (expiry, revisions, leases with fencing values, waiting for a
// change). A state file that outlives the process is a later step.
type localStore struct {
	mu      sync.Mutex
	seq     int64
	items   map[string]localItem
	leases  map[string]localItem // Value holds the holder id
	fences  map[string]int64
	changed map[string]chan struct{}
	closed  bool
}

// localItem is one stored value or lease.
type localItem struct {
	value   []byte
	rev     string
	expires time.Time // zero: never
}

// NewMemory returns an empty in-memory store, the one the "local" backend opens. It passes the
// conformance suite (store/storetest), so a test can stand it in for a shared backend: register an open
// function that returns one instance to every host (Register), or wrap it with hooks of its own.
func NewMemory() Store {
	return &localStore{items: map[string]localItem{}, leases: map[string]localItem{}, fences: map[string]int64{}, changed: map[string]chan struct{}{}}
}

// errLocalClosed is returned by every method of a closed local store.
var errLocalClosed = errors.New("the local store is closed")

// live returns the unexpired entry of m at key, deleting an expired one.
func live(m map[string]localItem, key string, now time.Time) (localItem, bool) {
	it, ok := m[key]
	if ok && !it.expires.IsZero() && !now.Before(it.expires) {
		delete(m, key)
		return localItem{}, false
	}
	return it, ok
}

// expiry converts a ttl into a deadline; 0 means none.
func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

func (s *localStore) Get(ctx context.Context, key string) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Item{}, errLocalClosed
	}
	it, _ := live(s.items, key, time.Now())
	return Item{Value: it.value, Rev: it.rev}, nil
}

// put stores value at key and wakes the key's waiters; s.mu is held.
func (s *localStore) put(key string, value []byte, ttl time.Duration) {
	s.seq++
	s.items[key] = localItem{value: append([]byte(nil), value...), rev: strconv.FormatInt(s.seq, 10), expires: expiry(time.Now(), ttl)}
	s.wake(key)
}

// wake wakes the waiters of key; s.mu is held.
func (s *localStore) wake(key string) {
	if ch, ok := s.changed[key]; ok {
		close(ch)
		delete(s.changed, key)
	}
}

func (s *localStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errLocalClosed
	}
	s.put(key, value, ttl)
	return nil
}

func (s *localStore) CompareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errLocalClosed
	}
	if it, _ := live(s.items, key, time.Now()); it.rev != rev {
		return false, nil
	}
	s.put(key, value, ttl)
	return true, nil
}

func (s *localStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errLocalClosed
	}
	delete(s.items, key)
	s.wake(key)
	return nil
}

func (s *localStore) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, bool, error) {
	if ttl <= 0 {
		return Lease{}, false, fmt.Errorf("lease %s: the lease time must be positive", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Lease{}, false, errLocalClosed
	}
	now := time.Now()
	if _, held := live(s.leases, key, now); held {
		return Lease{}, false, nil
	}
	holder := newHolderID()
	s.leases[key] = localItem{value: []byte(holder), expires: expiry(now, ttl)}
	s.fences[key]++
	return Lease{Key: key, Holder: holder, Fence: s.fences[key]}, true, nil
}

func (s *localStore) Release(ctx context.Context, l Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errLocalClosed
	}
	if it, held := live(s.leases, l.Key, time.Now()); held && string(it.value) == l.Holder {
		delete(s.leases, l.Key)
	}
	return nil
}

func (s *localStore) Renew(ctx context.Context, l Lease, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("lease %s: the lease time must be positive", l.Key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errLocalClosed
	}
	now := time.Now()
	it, held := live(s.leases, l.Key, now)
	if !held || string(it.value) != l.Holder {
		return false, nil
	}
	it.expires = expiry(now, ttl)
	s.leases[l.Key] = it
	return true, nil
}

func (s *localStore) CompareAndSetFenced(ctx context.Context, l Lease, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errLocalClosed
	}
	now := time.Now()
	if it, held := live(s.leases, l.Key, now); !held || string(it.value) != l.Holder || s.fences[l.Key] != l.Fence {
		return false, leaseLost(l, key)
	}
	if it, _ := live(s.items, key, now); it.rev != rev {
		return false, nil
	}
	s.put(key, value, ttl)
	return true, nil
}

// leaseLost is the error of a write to key refused because lease l is no longer held by its holder.
func leaseLost(l Lease, key string) error {
	return fmt.Errorf("writing %s under lease %s (fence %d): %w (it ran out or a newer holder took it)", key, l.Key, l.Fence, ErrLeaseLost)
}

func (s *localStore) Wait(ctx context.Context, key, rev string) (Item, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Item{}, errLocalClosed
		}
		it, _ := live(s.items, key, time.Now())
		if it.rev != rev {
			s.mu.Unlock()
			return Item{Value: it.value, Rev: it.rev}, nil
		}
		ch, ok := s.changed[key]
		if !ok {
			ch = make(chan struct{})
			s.changed[key] = ch
		}
		var expired <-chan time.Time
		var t *time.Timer
		if !it.expires.IsZero() {
			t = time.NewTimer(time.Until(it.expires))
			expired = t.C
		}
		s.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-expired:
		case <-ctx.Done():
			err = fmt.Errorf("waiting for %s to change: %w", key, ctx.Err())
		}
		if t != nil {
			t.Stop()
		}
		if err != nil {
			return Item{}, err
		}
	}
}

func (s *localStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for k := range s.changed {
		s.wake(k)
	}
	return nil
}

// newHolderID returns a random lease holder id.
func newHolderID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b)
}
