package core

import (
	"context"
	"net/http"

	"github.com/tokenhost/tokenhost/sdk"
)

// stepUp reports whether resp is a 403 whose WWW-Authenticate holds a Bearer challenge with
// error="insufficient_scope": the upstream wants a token with more scope, which a refresh that knows the
// reason may bring. It leads to a refresh and resend as a status in retry_statuses does, unless
// retry_statuses is empty.
func stepUp(resp *http.Response) bool {
	if resp.StatusCode != http.StatusForbidden {
		return false
	}
	vals := resp.Header.Values("Www-Authenticate")
	return len(vals) > 0 && sdk.InsufficientScope(sdk.NewRejection(resp.StatusCode, vals).Challenge)
}

// rejectionOf is why resp refused its token: its status and WWW-Authenticate values, cleaned and bounded.
func rejectionOf(resp *http.Response) sdk.Rejection {
	return sdk.NewRejection(resp.StatusCode, resp.Header.Values("Www-Authenticate"))
}

type rejectionKey struct{}

// withRejection returns ctx carrying why, for the plugin fetch that a rejection started.
func withRejection(ctx context.Context, why sdk.Rejection) context.Context {
	if why.Status == 0 {
		return ctx
	}
	return context.WithValue(ctx, rejectionKey{}, why)
}

// refreshStale asks src for a token other than stale, passing why the upstream refused stale (carried by
// ctx) to a plugin that implements sdk.RejectionAware.
func refreshStale(ctx context.Context, src sdk.Source, stale sdk.Token) (sdk.Token, error) {
	if why, ok := ctx.Value(rejectionKey{}).(sdk.Rejection); ok {
		if ra, ok := src.(sdk.RejectionAware); ok {
			return ra.RefreshRejected(ctx, stale, why)
		}
	}
	return src.Refresh(ctx, stale)
}
