package core

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// acquire resolves name in the configuration in effect and holds its provider (see useGate) until the
// caller's p.uses.release().
func (h *Host) acquire(name string) (*provider, error) {
	for {
		p, err := h.provider(name)
		if err != nil {
			return nil, err
		}
		if p.uses.acquire() {
			return p, nil
		}
		// A reload retired p between the lookup and the acquire: look again in the new generation.
	}
}

// providerRef is one provider held by one request (hostapi.Ref): a reload that replaces or removes the
// provider meanwhile does not stop its plugin until Release, so the request finishes on what it started
// with.
type providerRef struct {
	p        *provider
	released atomic.Bool
}

var _ hostapi.Ref = (*providerRef)(nil)

// ForwardTransport returns the held provider's shared wrapper for a caller that hands each request over
// entirely, as a reverse proxy does with its outbound copy.
func (r *providerRef) ForwardTransport() http.RoundTripper { return forwardTransport{r.p.transport()} }

// Endpoint returns the held provider's resolved endpoint, starting its plugin if needed.
func (r *providerRef) Endpoint(ctx context.Context) (*hostapi.Endpoint, error) {
	return r.p.endpoint(ctx)
}

// Config returns the held provider's configuration.
func (r *providerRef) Config() *config.Provider { return r.p.cfg }

// Release lets a reload stop the provider if it replaced or removed it; later calls do nothing.
func (r *providerRef) Release() {
	if r.released.CompareAndSwap(false, true) {
		r.p.uses.release()
	}
}

// useGate counts the requests holding a provider; once retired it admits no new one and reports when the
// last has left. The hot path is one compare-and-swap to enter and one atomic add to leave.
type useGate struct {
	state atomic.Int64  // the number of holders, plus retiredBit once retired
	idle  chan struct{} // made by retire before it sets retiredBit; closed when the last holder has left
	once  sync.Once
}

// retiredBit marks a retired useGate's state.
const retiredBit = int64(1) << 62

// acquire admits one more holder; it fails once the provider is retired.
func (g *useGate) acquire() bool {
	for {
		v := g.state.Load()
		if v&retiredBit != 0 {
			return false
		}
		if g.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// release ends one holder admitted by acquire.
func (g *useGate) release() {
	if g.state.Add(-1) == retiredBit {
		g.once.Do(func() { close(g.idle) })
	}
}

// retire admits no new holder and returns a channel closed once the current holders have left. It is
// called once per provider (by the reload that replaces or removes it).
func (g *useGate) retire() <-chan struct{} {
	g.idle = make(chan struct{})
	if g.state.Or(retiredBit) == 0 {
		g.once.Do(func() { close(g.idle) })
	}
	return g.idle
}
