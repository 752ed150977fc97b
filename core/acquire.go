package core

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/tokenhost/tokenhost/core/config"
)

// ProviderRef is one provider as the configuration generation current at Acquire has it, held by one
// request: a reload that replaces or removes the provider meanwhile does not stop its plugin until
// Release, so the request finishes on what it started with.
type ProviderRef struct {
	p        *provider
	released atomic.Bool
}

// Acquire resolves provider in the configuration in effect and holds it until Release, which the caller
// must call exactly once when done (a proxy: after the response body has been sent).
func (h *Host) Acquire(provider string) (*ProviderRef, error) {
	for {
		p, err := h.provider(provider)
		if err != nil {
			return nil, err
		}
		if p.uses.acquire() {
			return &ProviderRef{p: p}, nil
		}
		// A reload retired p between the lookup and the acquire: look again in the new generation.
	}
}

// Transport returns the held provider's shared wrapper.
func (r *ProviderRef) Transport() http.RoundTripper { return r.p.transport() }

// ForwardTransport returns the held provider's shared wrapper for a caller that hands each request over
// entirely, as a reverse proxy does with its outbound copy: the credential is then set on the request's
// own headers rather than on a copy, which saves the copy. Use Transport for requests the caller keeps.
func (r *ProviderRef) ForwardTransport() http.RoundTripper { return forwardTransport{r.p.transport()} }

// Endpoint returns the held provider's resolved endpoint, starting its plugin if needed.
func (r *ProviderRef) Endpoint(ctx context.Context) (*Endpoint, error) { return r.p.endpoint(ctx) }

// Config returns the held provider's configuration.
func (r *ProviderRef) Config() *config.Provider { return r.p.cfg }

// Release lets a reload stop the provider if it replaced or removed it; later calls do nothing.
func (r *ProviderRef) Release() {
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
