package core

import (
	"time"
)

// fetchTimeout is how long one fetch from the plugin may run: the provider's fetch_timeout, or what the
// plugin states it needs (Info.MaxFetch: lock wait + request), whichever is longer.
func (c *tokenCache) fetchTimeout() time.Duration {
	t := c.timeout
	if s := c.settings(); s != nil {
		t = max(t, s.info.MaxFetch)
	}
	return t
}

// enter registers a call about to run on the plugin; it fails once the host is closing. Every successful
// enter is paired with one leave.
func (p *pluginProc) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.calls++
	return true
}

// leave ends a call registered by enter, waking a close that waits for the last one.
func (p *pluginProc) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls--
	if p.calls == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
}

// drainLocked marks the plugin closed and returns a channel closed when the calls in flight have ended
// (nil when none is), and how long close waits for them: the longest a fetch may run (fetch_timeout, or
// the plugin's Info.MaxFetch when longer). A Refresh the plugin is carrying out is so given the time to
// finish and persist a rotated credential before the process is stopped.
func (p *pluginProc) drainLocked() (<-chan struct{}, time.Duration) {
	p.closed = true
	bound := max(p.cfg.FetchTimeout, p.info.MaxFetch)
	if p.calls == 0 {
		return nil, bound
	}
	if p.drained == nil {
		p.drained = make(chan struct{})
	}
	return p.drained, bound
}
