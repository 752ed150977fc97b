// Package state holds what a built-in plugin keeps between calls: its configuration, replaced by each
// Configure, and the last token fetched under it.
package state

import (
	"context"
	"sync"

	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
)

// Slot holds a configuration of type C and the token cached under it; the zero value holds none.
type Slot[C any] struct {
	mu  sync.Mutex
	cfg *C
	tok sdk.Token
}

// Set makes cfg the configuration, forgets the cached token, and returns the configuration it replaces
// (nil the first time), so the caller can release what that one holds.
func (s *Slot[C]) Set(cfg *C) (old *C) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, s.cfg, s.tok = s.cfg, cfg, sdk.Token{}
	return old
}

// Get returns the configuration and the cached token. It fails with ctx's error once ctx has ended, and
// with a KindInternal error naming plugin before the first Set.
func (s *Slot[C]) Get(ctx context.Context, plugin string) (*C, sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, sdk.Token{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil, sdk.Token{}, sdk.Internal("%s: a token was requested before Configure", plugin)
	}
	return s.cfg, s.tok, nil
}

// Cached returns the cached token (the zero Token when there is none).
func (s *Slot[C]) Cached() sdk.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok
}

// Store caches tok if cfg is still the configuration; a token fetched under a replaced one is dropped.
func (s *Slot[C]) Store(cfg *C, tok sdk.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == cfg {
		s.tok = tok
	}
}

// Reuse returns the cached token when usable accepts it. Otherwise it runs fetch once for all concurrent
// callers with the same key in g, unless a fetch that finished meanwhile cached a token usable accepts.
func (s *Slot[C]) Reuse(ctx context.Context, g *flight.Group, key string, usable func(sdk.Token) bool, fetch func() (sdk.Token, error)) (sdk.Token, error) {
	if cur := s.Cached(); usable(cur) {
		return cur, nil
	}
	return g.Do(ctx, key, func() (sdk.Token, error) {
		if cur := s.Cached(); usable(cur) {
			return cur, nil
		}
		return fetch()
	})
}
