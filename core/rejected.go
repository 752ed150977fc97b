package core

import (
	"context"
	"net/http"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// Current returns provider's token from its shared cache, fetching it when needed, and when it is due
// (zero: never, the token has no known expiry).
func (in internals) Current(ctx context.Context, provider string) (sdk.Token, time.Time, error) {
	q, err := in.started(ctx, provider)
	if err != nil {
		return sdk.Token{}, time.Time{}, err
	}
	defer q.uses.release()
	e, err := q.cache.get(ctx)
	if err != nil {
		return sdk.Token{}, time.Time{}, err
	}
	return e.tok, e.refreshAt, nil
}

// Rejected is what the wrapper does after the upstream rejected a request with rejected, for a caller
// outside the wrapper (a credential helper run again by its tool after a 401): when the cache already
// holds another usable token, that one; when rejected itself came from a refresh after a rejection less
// than min_refresh_interval ago and was never accepted, rejected again (not refreshed); otherwise the
// plugin's Refresh(rejected), single-flight with the wrapper's own refreshes.
func (in internals) Rejected(ctx context.Context, provider string, rejected sdk.Token) (sdk.Token, time.Time, error) {
	q, err := in.started(ctx, provider)
	if err != nil {
		return sdk.Token{}, time.Time{}, err
	}
	defer q.uses.release()
	c := q.cache
	stale := c.cur.Load()
	if stale == nil || stale.tok.Value != rejected.Value {
		if stale.usable(c.now()) {
			return stale.tok, stale.refreshAt, nil
		}
		stale = c.newEntry(rejected)
	}
	if c.throttled(stale) {
		return stale.tok, stale.refreshAt, nil
	}
	// A helper's caller does not say why its token failed: it is taken as a 401 without a challenge, which
	// marks the new token for min_refresh_interval like the wrapper's own 401 retries.
	e, err := c.renewRejected(ctx, stale, sdk.Rejection{Status: http.StatusUnauthorized})
	if err != nil {
		return sdk.Token{}, time.Time{}, err
	}
	return e.tok, e.refreshAt, nil
}

// started holds the provider called name (the caller releases its uses) with its plugin started.
func (in internals) started(ctx context.Context, name string) (*provider, error) {
	q, err := in.h.acquire(name)
	if err != nil {
		return nil, err
	}
	if q.settings.Load() == nil {
		if _, err := q.start(ctx); err != nil {
			q.uses.release()
			return nil, err
		}
	}
	return q, nil
}
