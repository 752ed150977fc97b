package core

import (
	"context"
	"log/slog"
	"net/http"
	"net/textproto"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/tokenhost/tokenhost/internal/tokenrule"
	"github.com/tokenhost/tokenhost/sdk"
)

// Background refresh pacing: after a failed or fruitless refresh-ahead, the next one waits a quarter of
// the token's remaining life, within these bounds.
const (
	minAheadBackoff = time.Second
	maxAheadBackoff = 30 * time.Second
)

// entry is one cached token with everything the hot path needs precomputed. Entries are immutable.
type entry struct {
	tok       sdk.Token
	gen       uint64
	expiry    time.Time // zero: valid until rejected
	refreshAt time.Time // zero: no refresh ahead
	header    string    // canonical header name
	value     []string  // the header's value, shared read-only by every request
	extra     []headerKV
	// rejectedAt is when the refresh that produced this entry was triggered by an upstream rejection of
	// the entry before it; zero for a token fetched for any other reason.
	rejectedAt time.Time
	// accepted is set once the upstream answered a request carrying this entry (one with rejectedAt set)
	// with a success: a later rejection is then a new revocation, never throttled.
	accepted atomic.Bool
	// throttleLogged is set once the throttle of a rejection of this entry has been logged.
	throttleLogged atomic.Bool
}

type headerKV struct {
	key   string
	value []string
}

// usable reports whether e may still be sent at now.
func (e *entry) usable(now time.Time) bool {
	return e != nil && (e.expiry.IsZero() || now.Before(e.expiry))
}

// tokenCache is a provider's shared token cache. Reads are one atomic load; every fetch from the plugin
// is single-flight, keyed by the entry it replaces.
type tokenCache struct {
	refreshBefore time.Duration
	timeout       time.Duration
	minRefresh    time.Duration // min_refresh_interval: 0 never throttles refreshes after a rejection
	fetch         func(ctx context.Context, stale *sdk.Token) (sdk.Token, error)
	ready         func(ctx context.Context) error // starts the plugin (if needed) before a fetch's timeout starts
	settings      func() *settings
	log           *slog.Logger
	stats         *counters
	now           func() time.Time
	name          string       // the provider's, for spans
	tracer        trace.Tracer // nil: the global one

	last     atomic.Pointer[refreshNote] // the last successful fetch
	cur      atomic.Pointer[entry]
	gen      atomic.Uint64
	flights  singleflight.Group
	ahead    atomic.Bool  // a background refresh is running
	notUntil atomic.Int64 // unix nano before which no background refresh starts
}

// get returns a usable entry: the cached one (starting a background refresh inside the refresh window), or
// a freshly fetched one shared with every concurrent caller.
func (c *tokenCache) get(ctx context.Context) (*entry, error) {
	e := c.cur.Load()
	if e != nil {
		now := c.now()
		if e.expiry.IsZero() || now.Before(e.expiry) {
			if !e.refreshAt.IsZero() && !now.Before(e.refreshAt) {
				c.refreshAhead(e, now)
			}
			return e, nil
		}
	}
	return c.renew(ctx, e)
}

// renew replaces stale (nil: nothing cached) with a new token. Callers that pass the same stale entry
// share one plugin call; if the cache already holds something newer, that is returned without a call.
// ctx bounds only this caller's wait: the fetch itself runs on its own timeout for everyone.
func (c *tokenCache) renew(ctx context.Context, stale *entry) (*entry, error) {
	if stale == nil {
		return c.renewFor(ctx, stale, ReasonCold)
	}
	return c.renewFor(ctx, stale, ReasonExpired)
}

// renewRejected is renew after the upstream rejected stale for the reason why, which the plugin's
// refresh is told: the new entry remembers the rejection, so that its own rejection within
// min_refresh_interval is not refreshed again (see throttled).
func (c *tokenCache) renewRejected(ctx context.Context, stale *entry, why sdk.Rejection) (*entry, error) {
	reason := ReasonRejected
	if why.Status == http.StatusForbidden && sdk.InsufficientScope(why.Challenge) {
		reason = ReasonStepUp
	}
	return c.renewWhy(ctx, stale, reason, why)
}

// throttled reports whether a rejection of e must not lead to a refresh: e itself came from a refresh
// after a rejection less than min_refresh_interval ago, the upstream never accepted it, and the cache
// holds nothing newer to resend with. An upstream that rejects every token (wrong scope, missing
// entitlement) then costs one refresh per interval, not one per request; a token that worked and is then
// revoked again (a key rotated twice in a minute) is refreshed at once.
func (c *tokenCache) throttled(e *entry) bool {
	if e.rejectedAt.IsZero() || c.minRefresh <= 0 || e.accepted.Load() {
		return false
	}
	now := c.now()
	if cur := c.cur.Load(); cur != e && cur.usable(now) {
		return false
	}
	return now.Sub(e.rejectedAt) < c.minRefresh
}

// renewFor is renew for a reason (Reason*), which the fetch's span and Status carry.
func (c *tokenCache) renewFor(ctx context.Context, stale *entry, reason string) (*entry, error) {
	return c.renewWhy(ctx, stale, reason, sdk.Rejection{})
}

// renewWhy is renewFor that hands the plugin's refresh why the upstream refused stale (zero: no rejection).
// Callers that share a flight share the first caller's why.
func (c *tokenCache) renewWhy(ctx context.Context, stale *entry, reason string, why sdk.Rejection) (*entry, error) {
	key := "0"
	if stale != nil {
		key = strconv.FormatUint(stale.gen, 10)
	}
	ch := c.flights.DoChan(key, func() (any, error) {
		if cur := c.cur.Load(); cur != stale && cur.usable(c.now()) {
			return cur, nil
		}
		if c.ready != nil {
			if err := c.ready(ctx); err != nil {
				c.stats.refreshFailures.Add(1)
				return nil, err
			}
		}
		fctx, cancel := context.WithTimeout(withRejection(fetchContext(ctx), why), c.fetchTimeout())
		defer cancel()
		fctx, span := c.startFetch(fctx, reason)
		var staleTok *sdk.Token
		if stale != nil {
			staleTok = &stale.tok
		}
		tok, err := c.fetch(fctx, staleTok)
		if err != nil {
			c.stats.refreshFailures.Add(1)
			endSpan(span, err)
			return nil, err
		}
		// The span ends once the cache and Status hold the new token, so whoever sees it end sees both.
		defer endSpan(span, nil)
		c.last.Store(&refreshNote{at: time.Now(), reason: reason})
		c.stats.refreshMin.Add(time.Now())
		if stale == nil {
			c.stats.fetches.Add(1)
		} else {
			c.stats.refreshes.Add(1)
		}
		e := c.newEntry(tok)
		if why.Status != 0 && stale != nil {
			e.rejectedAt = c.now()
		}
		c.cur.Store(e)
		return e, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*entry), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refreshAhead starts one background refresh of e unless one is running or pacing holds it back.
func (c *tokenCache) refreshAhead(e *entry, now time.Time) {
	if now.UnixNano() < c.notUntil.Load() || !c.ahead.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.ahead.Store(false)
		n, err := c.renewFor(context.Background(), e, ReasonAhead)
		if err == nil && n.tok.Value != e.tok.Value {
			return
		}
		now := c.now()
		wait := min(max(e.expiry.Sub(now)/4, minAheadBackoff), maxAheadBackoff)
		c.notUntil.Store(now.Add(wait).UnixNano())
		if err != nil {
			c.log.Warn("background token refresh failed; still serving the current token until it expires",
				"expires_in", e.expiry.Sub(now).Round(time.Second).String(), "retry_in", wait.String(), "error", err.Error())
		}
	}()
}

// newEntry builds an immutable cache entry for tok.
func (c *tokenCache) newEntry(tok sdk.Token) *entry {
	s := c.settings()
	e := &entry{tok: tok, gen: c.gen.Add(1), expiry: tok.Expiry, header: s.header, value: []string{s.value(tok.Value)}}
	e.refreshAt = tokenrule.RefreshAt(tok, c.now(), c.refreshBefore) // the rule `tokenhost token`'s cache follows too
	for k, v := range tok.Headers {
		e.extra = append(e.extra, headerKV{key: textproto.CanonicalMIMEHeaderKey(k), value: []string{v}})
	}
	return e
}
