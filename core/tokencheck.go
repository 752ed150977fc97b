package core

import (
	"net/textproto"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// checkToken returns a plugin error naming the field when the token a plugin returned cannot be used:
// what sdk.CheckToken refuses, an extra header that would replace the credential header, or an expiry
// that has already passed (after the one Refresh the fetch allows for that). The token breaker does not
// count these: they say nothing about the identity provider's health.
func (p *provider) checkToken(tok sdk.Token, now time.Time) error {
	err := sdk.CheckToken(tok)
	if s := p.settings.Load(); err == nil && s != nil {
		for k := range tok.Headers {
			if textproto.CanonicalMIMEHeaderKey(k) == s.header {
				err = sdk.Internal("Headers[%q]: would replace the credential header %s", k, s.header)
			}
		}
	}
	if err == nil && !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		err = sdk.Internal("Expiry: the token expired %s ago (at %s) even after a refresh; check this machine's clock and the plugin's credential source",
			now.Sub(tok.Expiry).Round(time.Second), tok.Expiry.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return sdk.Internal("plugin %s returned an unusable token: %s", p.cfg.Plugin, err.Error())
	}
	return nil
}

// unusableGate holds fetches back for min_refresh_interval after a plugin returned an unusable token, so
// a plugin that keeps doing so costs one Token and one Refresh per interval, not per request; the callers
// meanwhile get the same error at once.
type unusableGate struct{ last atomic.Pointer[unusable] }

type unusable struct {
	err   error
	until time.Time
}

// held returns the error to fail with while the gate holds at now, or nil.
func (g *unusableGate) held(now time.Time) error {
	if u := g.last.Load(); u != nil && now.Before(u.until) {
		return u.err
	}
	return nil
}

// hold makes the gate fail fetches with err until until.
func (g *unusableGate) hold(err error, until time.Time) {
	g.last.Store(&unusable{err: err, until: until})
}

// open lets fetches through again.
func (g *unusableGate) open() { g.last.Store(nil) }
