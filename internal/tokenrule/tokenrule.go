// Package tokenrule is the one rule for when a token is due for replacement, shared by the wrapper's
// cache (core), `tokenhost serve` and the cache `tokenhost token` keeps between invocations.
package tokenrule

import (
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// RefreshAt returns when tok, obtained at issued, is due: at the plugin's RefreshAt when that is still
// ahead at issued, else inside refreshBefore of expiry or past half the token's life, whichever is later
// (so a token shorter-lived than refreshBefore is not replaced on every use). Zero means never: the token
// has no known expiry and no RefreshAt.
func RefreshAt(tok sdk.Token, issued time.Time, refreshBefore time.Duration) time.Time {
	switch {
	case tok.RefreshAt.After(issued): // a RefreshAt already past is ignored: it would refresh at once
		return tok.RefreshAt
	case tok.Expiry.IsZero():
		return time.Time{}
	}
	at := tok.Expiry.Add(-refreshBefore)
	if half := issued.Add(tok.Expiry.Sub(issued) / 2); half.After(at) {
		at = half
	}
	return at
}

// Due reports whether tok, obtained at issued, should be replaced at now: it has expired, or RefreshAt
// has come.
func Due(tok sdk.Token, issued time.Time, refreshBefore time.Duration, now time.Time) bool {
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return true
	}
	at := RefreshAt(tok, issued, refreshBefore)
	return !at.IsZero() && !now.Before(at)
}
