package core

import (
	"net/textproto"
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
