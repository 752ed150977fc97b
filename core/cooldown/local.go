package cooldown

import (
	"context"
	"time"
)

// localBook keeps cooldowns in this process's memory.
type localBook struct{ t table }

// NewLocal returns a book that keeps cooldowns in this process's memory, for a host without a fleet store.
func NewLocal() Book { return &localBook{} }

func (b *localBook) Cooling(member string, now time.Time) (Reset, bool) {
	if s := b.t.get(member); s != nil {
		return s.cooling(now)
	}
	return Reset{}, false
}

func (b *localBook) Limit(_ context.Context, member string, r Reset) Reset {
	s, _ := b.t.add(member)
	if s == nil {
		return r
	}
	return s.limitLocal(r)
}

func (b *localBook) Clear(_ context.Context, member string) {
	if s := b.t.get(member); s != nil {
		s.clear()
	}
}

func (b *localBook) Close() error { return nil }
