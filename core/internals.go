package core

import (
	"context"
	"log/slog"

	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// The proxy and cmd/tokenhost reach what they need beyond the embedder API through internal/hostapi:
// hostapi.Of(h) returns h's internals, which only packages of this module can import.
func init() {
	hostapi.Register(func(host any) (hostapi.Host, bool) {
		h, ok := host.(*Host)
		if !ok || h == nil {
			return nil, false
		}
		return internals{h}, true
	})
}

// internals is a Host as hostapi.Host: what the proxy and the tokenhost command use of it.
type internals struct{ h *Host }

// Acquire resolves provider in the configuration in effect and holds it until Release.
func (in internals) Acquire(provider string) (hostapi.Ref, error) {
	p, g := in.h.lookup(provider)
	if g != nil {
		return g.ref(), nil
	}
	if p == nil || !p.uses.acquire() {
		var err error
		if p, err = in.h.acquire(provider); err != nil {
			return nil, err
		}
	}
	return &providerRef{p: p}, nil
}

// Endpoint returns the provider's resolved endpoint, starting its plugin if needed.
func (in internals) Endpoint(ctx context.Context, provider string) (*hostapi.Endpoint, error) {
	p, err := in.h.provider(provider)
	if err != nil {
		return nil, err
	}
	return p.endpoint(ctx)
}

// Generation returns the configuration generation in effect.
func (in internals) Generation() int64 { return in.h.gen.Load().n }

// Logger returns the logger the host writes to.
func (in internals) Logger() *slog.Logger { return in.h.log }
