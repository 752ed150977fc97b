package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// fetchLease is a provider's fetch lease as this host holds it while its fetch runs. The lease time is
// short (fetch_timeout + 1 s), so a holder that dies blocks the fleet for one such period at most; a
// holder that lives renews it every third of that period until its fetch ends, so the lease covers the
// whole fetch however long the plugin may take (Info.MaxFetch). It is lost when a renewal finds that the
// holder no longer holds it, or when no renewal reached the store for a whole lease time (it may have run
// out there); from then on this host is no longer the holder: writes made under it are refused, here and
// by the store (CompareAndSetFenced), so nothing this fetch brings overwrites a newer holder's.
type fetchLease struct {
	l    store.Lease
	lost atomic.Bool
	warn func(why string) // says once that the lease was lost
}

// isLost reports whether the lease was found lost.
func (h *fetchLease) isLost() bool { return h.lost.Load() }

// lose marks the lease lost, saying why once.
func (h *fetchLease) lose(why string) {
	if h.lost.CompareAndSwap(false, true) {
		h.warn(why)
	}
}

// holdLease renews l, taken at since, every third of the lease time until the returned stop is called
// (stop waits for the renewing goroutine to end). The plugin's storage writes under l until then.
func (s *fleetTokens) holdLease(l store.Lease, since time.Time) (*fetchLease, func()) {
	h := &fetchLease{l: l, warn: func(why string) {
		s.log.Warn("this host lost the provider's fetch lease while its fetch ran; what the fetch brings is not stored over a newer holder's",
			"reason", why, "lease_time", s.lease.String())
	}}
	if s.state != nil {
		s.state.lease.Store(h)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.renewLease(h, since, done) })
	return h, func() {
		close(done)
		wg.Wait()
		if s.state != nil {
			s.state.lease.CompareAndSwap(h, nil)
		}
	}
}

// renewLease is holdLease's goroutine: it renews h until done is closed or h is lost.
func (s *fleetTokens) renewLease(h *fetchLease, since time.Time, done <-chan struct{}) {
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	last := since // the start of the last call that set the lease time in the store
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if h.isLost() {
			return
		}
		at := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), s.lease/3)
		ok, err := s.store.Renew(ctx, h.l, s.lease)
		cancel()
		switch {
		case err == nil && ok:
			last = at
		case err == nil:
			h.lose("another host holds it now, or it ran out")
			return
		case time.Since(last) >= s.lease:
			h.lose("no renewal reached the store for a whole lease time (" + err.Error() + ")")
			return
		}
	}
}
