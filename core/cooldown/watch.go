package cooldown

import (
	"time"
)

// Pauses between a watcher's failed waits: doubling from the first to the last.
const (
	watchRetryFirst = 100 * time.Millisecond
	watchRetryLast  = 5 * time.Second
)

// watch keeps s current with the member's key until the book closes: it waits for the key to change
// (store.Wait, which a backend answers from its notifications, not by the caller's polling) and records
// each new value, or its absence after a Clear or expiry. Before each wait it writes to the store a limit
// of this host's own that the store did not take, so that a store back from a failure learns of it.
func (b *sharedBook) watch(member string, s *slot) {
	defer b.wg.Done()
	key := b.key(member)
	rev := ""
	pause := watchRetryFirst
	for {
		if r, ok := s.unshared(time.Now()); ok { // a limit made while the store failed
			b.write(b.ctx, member, s, r, time.Now())
		}
		gen := s.generation()
		it, err := b.st.Wait(b.ctx, key, rev)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			b.failed(b.ctx, "watching", member, err)
			t := time.NewTimer(pause)
			select {
			case <-b.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(2*pause, watchRetryLast)
			continue
		}
		b.worked()
		pause = watchRetryFirst
		rev = it.Rev
		if r, ok := decode(it.Value, time.Now()); ok {
			s.observe(gen, &r)
		} else {
			s.observe(gen, nil)
		}
	}
}
