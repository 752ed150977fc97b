package gateway

import (
	"context"
	"errors"
	"net/url"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// revoke asks the revocation endpoint (RFC 7009) to revoke the stored refresh token (or, without one, the
// access token), and says what happened; a failure to revoke does not keep the sign-in from being deleted.
func (s *source) revoke(ctx context.Context, c *config, si signIn) string {
	ep, err := c.endpoints.revocation(ctx, c)
	if err != nil || ep == "" {
		return "No revocation endpoint is known (set revocation_url or issuer), so the sign-in was not revoked."
	}
	tok, hint := si.RefreshToken, "refresh_token"
	if tok == "" {
		tok, hint = si.AccessToken, "access_token"
	}
	if tok == "" {
		return "The stored sign-in holds no token to revoke."
	}
	cc := c.hiding(tok)
	if _, err := cc.post(ctx, ep, url.Values{"token": {tok}, "token_type_hint": {hint}}, true); err != nil {
		var f *failure
		if errors.As(err, &f) && f.status >= 200 && f.status < 300 {
			return "Revoked at " + tokenkit.Display(ep) + "."
		}
		return "Revocation at " + tokenkit.Display(ep) + " failed (" + tokenhttp.Clean(cc.explain(err, ep).Error(), tokenhttp.MaxDescription, cc.secrets) + ")."
	}
	return "Revoked at " + tokenkit.Display(ep) + "."
}
