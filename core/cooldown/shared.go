package cooldown

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// sharedBook keeps cooldowns in the fleet's store and in memory: Limit and Clear write through, one
// watcher per member keeps memory current with what other hosts write, and Cooling reads memory only.
type sharedBook struct {
	t      table
	st     store.Store
	prefix string
	log    *slog.Logger

	ctx    context.Context // the watchers' lifetime; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool // guarded by t.mu, so that no watcher starts after Close
	once   sync.Once

	down atomic.Bool // the last store call failed, and that was logged
}

// casTries bounds the compare-and-set rounds of one Limit while other hosts keep writing the member's key;
// past them the limit is kept in memory.
const casTries = 8

// NewShared returns a book that shares cooldowns with the other hosts through st, under the keys
// "<prefix>cooldown/<member>"; ctx bounds its watchers, and Close ends them (it leaves st open). A store
// that fails never fails a caller: the book then keeps cooldowns in memory and logs once to log (nil: no
// logging) until a store call succeeds again; a limit made meanwhile is this host's own until its watcher
// finds the store working and writes it there. Limit and Clear
// wait for the store, bounded by their ctx and the store's operation timeout; Cooling never does. With a
// nil st it is NewLocal's book.
func NewShared(ctx context.Context, st store.Store, prefix string, log *slog.Logger) Book {
	if st == nil {
		return NewLocal()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &sharedBook{st: st, prefix: prefix, log: log, ctx: ctx, cancel: cancel}
}

// key is the store key of member's cooldown.
func (b *sharedBook) key(member string) string { return b.prefix + "cooldown/" + member }

func (b *sharedBook) Cooling(member string, now time.Time) (Reset, bool) {
	s := b.t.get(member)
	if s == nil {
		s = b.slot(member) // the first look at a member starts its watcher
		if s == nil {
			return Reset{}, false
		}
	}
	return s.cooling(now)
}

// slot returns member's slot, starting its watcher when it is new; nil for a name the book does not keep.
func (b *sharedBook) slot(member string) *slot {
	b.t.mu.Lock()
	closed := b.closed
	b.t.mu.Unlock()
	if closed {
		return nil
	}
	s, added := b.t.add(member)
	if added {
		b.t.mu.Lock()
		if !b.closed {
			b.wg.Add(1)
			go b.watch(member, s)
		}
		b.t.mu.Unlock()
	}
	return s
}

func (b *sharedBook) Limit(ctx context.Context, member string, r Reset) Reset {
	s := b.slot(member)
	if s == nil {
		return r
	}
	now := time.Now()
	if r.Until.After(now.Add(MaxCooldown)) {
		r.Until = now.Add(MaxCooldown)
	}
	if !r.Until.After(now) {
		return s.current(r) // a reset that has passed rests nobody
	}
	if !b.write(ctx, member, s, r, now) {
		return s.limitLocal(r)
	}
	return s.current(r)
}

// write puts r in the store unless the store holds a later reset, and records in s what the store then
// holds; it reports whether it could (false: the store failed, or other hosts kept writing the key).
func (b *sharedBook) write(ctx context.Context, member string, s *slot, r Reset, now time.Time) bool {
	key := b.key(member)
	for range casTries {
		it, err := b.st.Get(ctx, key)
		if err != nil {
			b.failed(ctx, "reading", member, err)
			return false
		}
		if cur, ok := decode(it.Value, now); ok && !cur.Until.Before(r.Until) {
			b.worked()
			s.wrote(&cur)
			return true
		}
		done, err := b.st.CompareAndSet(ctx, key, it.Rev, encode(r), ttl(r.Until.Sub(now)))
		if err != nil {
			b.failed(ctx, "writing", member, err)
			return false
		}
		if done {
			b.worked()
			s.wrote(&r)
			return true
		}
	}
	return false
}

func (b *sharedBook) Clear(ctx context.Context, member string) {
	s := b.t.get(member)
	if s != nil {
		s.clear()
	}
	if member == "" {
		return
	}
	err := b.st.Delete(ctx, b.key(member))
	if s != nil {
		s.clear() // again: a watcher may have read the value before it was deleted
	}
	if err != nil {
		b.failed(ctx, "clearing", member, err)
		return
	}
	b.worked()
}

func (b *sharedBook) Close() error {
	b.once.Do(func() {
		b.t.mu.Lock()
		b.closed = true
		b.t.mu.Unlock()
		b.cancel()
		b.wg.Wait()
	})
	return nil
}

// failed notes a store call that failed: the first failure after a working store is logged, with the
// member and the store's error, which names keys and the store, never a value.
func (b *sharedBook) failed(ctx context.Context, op, member string, err error) {
	if ctx.Err() != nil && !errors.Is(err, store.ErrUnavailable) {
		return // the caller gave up; that says nothing about the store
	}
	if b.down.CompareAndSwap(false, true) {
		b.log.Warn("cooldowns: the shared store failed; this host keeps cooldowns in its own memory, and other hosts do not see them, until the store answers again",
			"op", op, "member", member, "error", err.Error())
	}
}

// worked notes a store call that succeeded, logging the recovery after a failure.
func (b *sharedBook) worked() {
	if b.down.CompareAndSwap(true, false) {
		b.log.Info("cooldowns: the shared store answers again; cooldowns are shared with the fleet again")
	}
}

// ttl is the store expiry of a cooldown that lasts d: d rounded up to a whole millisecond, the finest
// expiry a backend may keep, so that a short cooldown never gets none.
func ttl(d time.Duration) time.Duration {
	return max((d + time.Millisecond - 1).Truncate(time.Millisecond), time.Millisecond)
}

// stored is a cooldown as the store holds it.
type stored struct {
	Until  time.Time `json:"until"`
	Source string    `json:"source"`
}

// encode is r as the store holds it.
func encode(r Reset) []byte {
	b, _ := json.Marshal(stored{Until: r.Until.UTC(), Source: r.Source}) // a struct of a time and a string always marshals
	return b
}

// decode reads a stored cooldown, cutting it to MaxCooldown from now; ok is false for an absent or
// unreadable value. A source this package does not name is read as SourceDefault.
func decode(v []byte, now time.Time) (Reset, bool) {
	var s stored
	if len(v) == 0 || json.Unmarshal(v, &s) != nil || s.Until.IsZero() {
		return Reset{}, false
	}
	if s.Until.After(now.Add(MaxCooldown)) {
		s.Until = now.Add(MaxCooldown)
	}
	if !known(s.Source) {
		s.Source = SourceDefault
	}
	return Reset{Until: s.Until, Source: s.Source}, true
}

// known reports whether src is one of the Source constants.
func known(src string) bool {
	switch src {
	case SourceRetryAfter, SourceRetryAfterMs, SourceResetRequests, SourceResetTokens, SourceUsageLimit, SourceRetryInfo, SourceDefault:
		return true
	}
	return false
}
