package fakes

import (
	"context"
	"net/http"
	"sync"
)

// holder lets a test hold a fake's requests at a gate and see how many wait there; the zero value is ready
// to use. The token servers embed it, so Hold, Held and WaitHeld are theirs.
type holder struct {
	mu     sync.Mutex
	gate   chan struct{} // non-nil while held
	held   int64         // requests currently blocked by the gate
	heldCh chan struct{} // closed when held changes; nil until someone waits for a change
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
func (h *holder) Held() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// WaitHeld blocks until at least n token requests are blocked by Hold, or ctx ends.
func (h *holder) WaitHeld(ctx context.Context, n int64) error {
	for {
		h.mu.Lock()
		if h.heldCh == nil {
			h.heldCh = make(chan struct{})
		}
		held, ch := h.held, h.heldCh
		h.mu.Unlock()
		if held >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *holder) addHeld(d int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held += d
	if h.heldCh != nil {
		close(h.heldCh)
		h.heldCh = nil
	}
}

// wait blocks while requests are held; it reports false when the client went away meanwhile.
func (h *holder) wait(r *http.Request) bool {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate == nil {
		return true
	}
	h.addHeld(1)
	defer h.addHeld(-1)
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

// counter counts events and lets a test wait for a number of them; the zero value is ready to use.
type counter struct {
	mu sync.Mutex
	n  int64
	ch chan struct{} // closed when n changes; nil until someone waits
}

func (c *counter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// wait blocks until at least n events happened, or ctx ends.
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
