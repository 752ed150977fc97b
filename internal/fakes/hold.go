package fakes

import (
	"context"
	"net/http"
	"sync"
)

// holder lets a test hold a fake's requests at a gate and see how many wait there; the zero value is ready
// to use. The token servers embed it, so Hold, Held and WaitHeld are theirs.
type holder struct {
	mu   sync.Mutex
	gate chan struct{} // non-nil while held
	held counter       // requests currently blocked by the gate
}

// Hold makes token requests block until the returned release is called (it is idempotent; Holds taken
// while already held share one gate). Requests counts requests as they arrive, before they block.
func (h *holder) Hold() (release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate == nil {
		h.gate = make(chan struct{})
	}
	gate := h.gate
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.gate == gate {
				close(gate)
				h.gate = nil
			}
		})
	}
}

// Held returns how many token requests are currently blocked by Hold.
func (h *holder) Held() int64 { return h.held.value() }

// WaitHeld blocks until at least n token requests are blocked by Hold, or ctx ends.
func (h *holder) WaitHeld(ctx context.Context, n int64) error { return h.held.wait(ctx, n) }

// wait blocks while requests are held; it reports false when the client went away meanwhile.
func (h *holder) wait(r *http.Request) bool {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate == nil {
		return true
	}
	h.held.add(1)
	defer h.held.add(-1)
	select {
	case <-gate:
		return true
	case <-r.Context().Done():
		return false
	}
}

// releaseAll lets every held request through, as a server does before it shuts down.
func (h *holder) releaseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

// counter is a number a test can wait on (events so far, requests waiting); the zero value is ready to use.
type counter struct {
	mu sync.Mutex
	n  int64
	ch chan struct{} // closed when n changes; nil until someone waits
}

// value returns the number.
func (c *counter) value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// add adds d to the number and wakes its waiters.
func (c *counter) add(d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// wait blocks until the number is at least n, or ctx ends.
func (c *counter) wait(ctx context.Context, n int64) error {
	for {
		c.mu.Lock()
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		got, ch := c.n, c.ch
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
