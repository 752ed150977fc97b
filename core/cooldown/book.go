package cooldown

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Book records members' cooldowns.
type Book interface {
	// Cooling returns the member's cooldown, if it is cooling down at now.
	Cooling(member string, now time.Time) (Reset, bool)
	// Limit starts or extends the member's cooldown (the later reset wins); it returns the reset in force.
	Limit(ctx context.Context, member string, r Reset) Reset
	// Clear ends the member's cooldown after a success.
	Clear(ctx context.Context, member string)
	// Close ends the book's watchers, if it has any; it leaves the store open.
	Close() error
}

// maxMembers bounds the members a book remembers (group members come from the configuration, so a real
// one holds a handful); a book that holds this many ignores further names.
const maxMembers = 1024

// slot is one member's cooldown in memory.
type slot struct {
	inForce atomic.Pointer[Reset] // the later of shared and local, read without a lock; nil: none

	mu     sync.Mutex
	shared *Reset // what the store holds, as last read or written; nil: nothing
	local  *Reset // a limit the store did not take (it failed, or others kept writing); nil: none
	gen    uint64 // counts this host's changes of shared, so a watcher can tell its reading is older
}

// later returns the later of two resets, either of which may be nil.
func later(a, b *Reset) *Reset {
	if a == nil || b != nil && b.Until.After(a.Until) {
		return b
	}
	return a
}

// publish makes the later of shared and local the reset in force; s.mu is held.
func (s *slot) publish() { s.inForce.Store(later(s.shared, s.local)) }

// cooling is the reset in force, if it lasts beyond now.
func (s *slot) cooling(now time.Time) (Reset, bool) {
	r := s.inForce.Load()
	if r == nil || !now.Before(r.Until) {
		return Reset{}, false
	}
	return *r, true
}

// current returns the reset in force, or r when there is none.
func (s *slot) current(r Reset) Reset {
	if p := s.inForce.Load(); p != nil {
		return *p
	}
	return r
}

// limitLocal keeps r in this process's memory, unless a later reset is in force.
func (s *slot) limitLocal(r Reset) Reset {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.local = later(s.local, &r)
	s.publish()
	return *s.inForce.Load()
}

// wrote records r as what the store holds after this host read or wrote it; a limit of this host's own
// that is no later is then in the store, and forgotten as its own.
func (s *slot) wrote(r *Reset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared = r
	if s.local != nil && !s.local.Until.After(r.Until) {
		s.local = nil
	}
	s.gen++
	s.publish()
}

// unshared returns this host's own limit that the store did not take, if it is later than what the store
// holds and lasts beyond now.
func (s *slot) unshared(now time.Time) (Reset, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.local == nil || !s.local.Until.After(now) || s.shared != nil && !s.shared.Until.Before(s.local.Until) {
		return Reset{}, false
	}
	return *s.local, true
}

// generation returns the count of this host's changes, for a watcher to pass to observe.
func (s *slot) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// observe records what a watcher read from the store (nil: nothing), unless this host changed the slot
// since generation returned gen: then the reading may be older than that change, and the watcher's next
// wait returns the newer value.
func (s *slot) observe(gen uint64, r *Reset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.shared = r
		s.publish()
	}
}

// clear forgets the member's cooldown.
func (s *slot) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared, s.local = nil, nil
	s.gen++
	s.publish()
}

// table maps members to their slots: readers load the map without a lock, writers copy it.
type table struct {
	m  atomic.Pointer[map[string]*slot]
	mu sync.Mutex // serialises writers
}

// get returns the member's slot, or nil.
func (t *table) get(member string) *slot {
	if m := t.m.Load(); m != nil {
		return (*m)[member]
	}
	return nil
}

// add returns the member's slot, making it when there is none; added reports that it did. It returns nil
// for an empty name and when the table is full.
func (t *table) add(member string) (s *slot, added bool) {
	if member == "" {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if s := (*old)[member]; s != nil {
			return s, false
		}
		if len(*old) >= maxMembers {
			return nil, false
		}
	}
	m := make(map[string]*slot, 1+len(ptrMap(old)))
	for k, v := range ptrMap(old) {
		m[k] = v
	}
	s = &slot{}
	m[member] = s
	t.m.Store(&m)
	return s, true
}

// ptrMap is *m, or nil.
func ptrMap(m *map[string]*slot) map[string]*slot {
	if m == nil {
		return nil
	}
	return *m
}
