package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
)

// fleetTokens puts a store in front of a provider's plugin fetch, so a fleet of hosts fetches one access
// token per expiry instead of one per host: a host uses a token another host stored; otherwise it takes
// the provider's fetch lease and fetches, renewing the lease until its fetch ends, while the others wait
// for the token it stores as long as the lease lives. When the store fails, the host fetches alone (and
// says so once).
type fleetTokens struct {
	provider string
	store    store.Store
	fetch    func(ctx context.Context, stale *sdk.Token) (sdk.Token, error)
	lease    time.Duration        // the fetch lease's time: it runs out this long after its holder's last renewal
	openFor  time.Duration        // the token breaker's open_for: how long a "token endpoint down" hint lasts
	noteErr  func(error)          // records an error as the provider's last error
	timeout  func() time.Duration // the provider's effective fetch timeout, given to each plugin fetch
	now      func() time.Time
	log      *slog.Logger
	failed   atomic.Bool // a store failure other than unavailability was logged
	// state is the storage the host offers the plugin (nil: none), and keepsState reports whether the
	// plugin keeps its state there (Info.UsesStorage): then the plugin is never asked for a token without
	// the fetch lease, since its refresh token rotates and two hosts redeeming it trip reuse detection.
	state      *pluginStorage
	keepsState func(ctx context.Context) bool
	health     *storeHealth // the host's view of the store (nil: not followed)
}

// maxFleetTTL bounds how long a token without an expiry stays in the store.
const maxFleetTTL = 24 * time.Hour

// openFleetStore returns the store the host shares tokens through: opts.Store when set, the configured
// shared store (any registered backend but local), or nil (a single host with a local store has nothing to share).
func openFleetStore(cfg *config.Config, opts Options) (store.Store, bool, error) {
	if opts.Store != nil {
		return opts.Store, false, nil
	}
	if !cfg.Store.Shared() {
		return nil, false, nil
	}
	s, err := store.Open(cfg.Store.Config())
	return s, true, err
}

// shareTokens routes p's token fetches through the store; state is the storage offered to p's plugin, and
// health the host's view of the store.
func shareTokens(p *provider, store store.Store, state *pluginStorage, health *storeHealth) {
	s := &fleetTokens{provider: p.name, store: store, fetch: p.cache.fetch, lease: p.cfg.FetchTimeout + time.Second,
		openFor: p.cfg.Breaker.OpenFor, noteErr: p.noteErr, timeout: p.cache.fetchTimeout, now: p.cache.now, log: p.log,
		state: state, keepsState: p.keepsState, health: health}
	p.cache.fetch = s.get
}

// keeps reports whether the plugin keeps its state in the store, starting the plugin to know when it has
// not started yet (with a fetch timeout of its own: ctx may be spent by a wait).
func (s *fleetTokens) keeps(ctx context.Context) bool {
	if s.state == nil || s.keepsState == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout())
	defer cancel()
	return s.keepsState(ctx)
}

// key is the store key of the provider's shared access token (and the name of its fetch lease).
func (s *fleetTokens) key() string { return fleetTokenKey(s.provider) }

// fleetTokenKey is the store key of provider's shared access token.
func fleetTokenKey(provider string) string { return provider + "/access-token" }

// get returns a token for the cache: a usable one from the store, else one this host fetches under the
// lease, else the one the lease holder stores.
func (s *fleetTokens) get(ctx context.Context, stale *sdk.Token) (sdk.Token, error) {
	if err := s.knownDown(ctx); err != nil {
		return sdk.Token{}, s.stateUnavailable(err)
	}
	it, err := s.store.Get(ctx, s.key())
	if err != nil {
		return s.alone(ctx, stale, err)
	}
	if tok, ok := s.usable(it, stale); ok {
		return tok, nil
	}
	if err := s.downHint(it); err != nil {
		return sdk.Token{}, err
	}
	var until time.Time // when this host stops waiting for another host's fetch
	for {
		at := time.Now()
		l, got, err := s.store.Acquire(ctx, s.key(), s.lease)
		if err != nil {
			return s.alone(ctx, stale, err)
		}
		if got {
			return s.underLease(ctx, stale, it, l, at)
		}
		if until.IsZero() {
			// The holder renews its lease while its fetch runs, and its fetch ends within the effective
			// fetch timeout: a lease alive after that and one lease time more is not one to wait for.
			until = at.Add(s.timeout() + s.lease)
		}
		left := time.Until(until)
		if left <= 0 {
			break
		}
		// The wait gets its own time (the fetch context the cache gives is the fetch timeout, not the
		// wait's), and ends every third of the lease time to try the lease again: a holder that died
		// stops renewing, and its lease is taken over within one lease time after its last renewal.
		if ctx.Done() != nil {
			ctx = context.WithoutCancel(ctx)
		}
		wctx, cancel := context.WithTimeout(ctx, min(s.lease/3, left))
		next, err := s.store.Wait(wctx, s.key(), it.Rev)
		cancel()
		if err == nil {
			if tok, ok := s.usable(next, stale); ok {
				return tok, nil
			}
			if err := s.downHint(next); err != nil {
				return sdk.Token{}, err
			}
			it = next
		}
	}
	if !s.keeps(ctx) {
		// The lease holder neither stored a token nor let its lease run out: fetch alone.
		return s.fetchOwn(ctx, stale)
	}
	// A plugin whose state is in the store refreshes only under the lease: never alone, since another host
	// may be redeeming the refresh token it would redeem.
	err = sdk.Unavailable("provider %s: another host of the fleet held the fetch lease for %s (the longest a fetch may take, %s, and one lease time) without storing a token; try again", s.provider, s.timeout()+s.lease, s.timeout())
	s.noteErr(err)
	return sdk.Token{}, err
}

// underLease fetches with the provider's fetch lease l (taken at since) held and renewed: from the store if
// another host stored a token while this one took the lease, else from the plugin, storing what it gets
// (or the endpoint's being down) for the fleet unless the lease was lost meanwhile. it is the stored value
// read before the lease was taken.
func (s *fleetTokens) underLease(ctx context.Context, stale *sdk.Token, it store.Item, l store.Lease, since time.Time) (sdk.Token, error) {
	h, stop := s.holdLease(l, since)
	defer func() {
		stop()
		_ = s.store.Release(context.WithoutCancel(ctx), l)
	}()
	if again, err := s.store.Get(ctx, s.key()); err == nil { // stored while this host took the lease?
		if tok, ok := s.usable(again, stale); ok {
			return tok, nil
		}
		if err := s.downHint(again); err != nil {
			return sdk.Token{}, err
		}
		it = again
	}
	tok, err := s.fetchOwn(ctx, stale)
	if err == nil {
		s.put(ctx, h, it.Rev, tok)
	} else if until, down := s.endpointDown(err); down {
		s.markDown(ctx, h, it, until)
	}
	return tok, err
}

// knownDown returns the store's error while the host knows the store is unavailable and the plugin keeps
// its state there: such a fetch fails at once rather than after a store timeout. The host's background
// probe notices, within a second, that the store is back.
func (s *fleetTokens) knownDown(ctx context.Context) error {
	if s.health == nil {
		return nil
	}
	st := s.health.status()
	if st.Up || !s.keeps(ctx) {
		return nil
	}
	return fmt.Errorf("%w since %s", store.ErrUnavailable, st.Since.Format(time.TimeOnly))
}

// stateUnavailable is the error of a provider whose plugin keeps its state in the store while the store
// is unavailable (err).
func (s *fleetTokens) stateUnavailable(err error) error {
	e := &StoreUnavailableError{Provider: s.provider, Err: err}
	if s.noteErr != nil {
		s.noteErr(e)
	}
	return e
}

// usable decodes a stored token and reports whether it may replace stale: present, unexpired, and not
// the token being replaced (nor expiring before it).
func (s *fleetTokens) usable(it store.Item, stale *sdk.Token) (sdk.Token, bool) {
	if it.Rev == "" {
		return sdk.Token{}, false
	}
	v, ok := decodeFleetValue(it)
	tok := v.Token
	if !ok || tok.Value == "" {
		return sdk.Token{}, false
	}
	if !tok.Expiry.IsZero() && !s.now().Before(tok.Expiry) {
		return sdk.Token{}, false
	}
	// Older than stale: expiring before it. Tokens issued within one second of each other (a JWT's exp has
	// whole seconds) may share an expiry; a different value then is the newer one.
	if stale != nil && (tok.Value == stale.Value || (!stale.Expiry.IsZero() && !tok.Expiry.IsZero() && tok.Expiry.Before(stale.Expiry))) {
		return sdk.Token{}, false
	}
	return tok, true
}

// put stores tok, fetched under the lease h, unless someone else stored a token since revision rev was
// read.
func (s *fleetTokens) put(ctx context.Context, h *fetchLease, rev string, tok sdk.Token) {
	ttl := maxFleetTTL
	if !tok.Expiry.IsZero() {
		ttl = min(tok.Expiry.Sub(s.now()), maxFleetTTL)
	}
	if ttl <= 0 {
		return
	}
	b, err := json.Marshal(fleetValue{Token: tok})
	if err != nil {
		return
	}
	s.storeUnder(ctx, h, rev, b, ttl)
}

// storeUnder writes b at the shared key over revision rev, fenced with the lease h: nothing once h is
// lost, and h is lost when the store refuses the write for it.
func (s *fleetTokens) storeUnder(ctx context.Context, h *fetchLease, rev string, b []byte, ttl time.Duration) {
	if h.isLost() {
		return
	}
	_, err := s.store.CompareAndSetFenced(context.WithoutCancel(ctx), h.l, s.key(), rev, b, ttl)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		h.lose("the store refused the shared token's write under it")
	case err != nil:
		s.noteStoreErr(err)
	}
}

// alone fetches without the store after the store failed with err; a plugin that keeps its state in the
// store is not asked (it would fail the same way, or, with a store that just came back, refresh without
// the lease).
func (s *fleetTokens) alone(ctx context.Context, stale *sdk.Token, err error) (sdk.Token, error) {
	s.noteStoreErr(err)
	if s.keeps(ctx) {
		if errors.Is(err, store.ErrUnavailable) {
			return sdk.Token{}, s.stateUnavailable(err)
		}
		return sdk.Token{}, err
	}
	return s.fetchOwn(ctx, stale)
}

// fetchOwn asks this host's plugin, with the provider's whole fetch timeout from now.
func (s *fleetTokens) fetchOwn(ctx context.Context, stale *sdk.Token) (sdk.Token, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout())
	defer cancel()
	return s.fetch(fctx, stale)
}

// noteStoreErr logs a store failure other than unavailability (which the host's storeHealth logs) once.
func (s *fleetTokens) noteStoreErr(err error) {
	if !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, context.Canceled) && s.failed.CompareAndSwap(false, true) {
		s.log.Warn("shared store failed; this host fetches its own tokens for this provider", "error", err.Error())
	}
}
