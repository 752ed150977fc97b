package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// loginHint is the next step when a stored sign-in is gone or refused.
const loginHint = "run `tokenhost login <provider>` for this provider"

// requestHint names the options that shape a token request, for an endpoint that found it malformed or
// incomplete: form parameters, headers, the audience and the scopes.
const requestHint = "extra_params (form parameters), token_headers (headers the identity provider wants, e.g. a tenant), audience, resource and scopes"

// explain turns a failed request to ep into an sdk error that says what failed and what to do next. Errors
// that already carry a kind pass through. It never quotes a response body, a secret or a token.
func (c *config) explain(err error, ep string) error {
	var f *failure
	if !errors.As(err, &f) {
		return err
	}
	ep = tokenkit.Display(ep)
	if f.code != "" {
		return c.oauthError(ep, f.status, f.code, f.desc)
	}
	if f.status >= 200 && f.status < 300 {
		return sdk.Unavailable("token endpoint %s answered %d %s", ep, f.status, f.what)
	}
	return c.statusError(ep, f.status, f.ct)
}

// oauthError maps an RFC 6749 §5.2 error to a kind and a next step: the codes that point at an option
// blame it, tokenkit.Classify decides the rest. invalid_grant means the user's sign-in ended only in the
// grants that have one; in the others it blames what the grant sent.
func (c *config) oauthError(ep string, status int, code, desc string) error {
	detail := fmt.Sprintf("%d %s", status, code)
	if desc != "" {
		detail += ": " + desc
	}
	switch code {
	case "invalid_client":
		return sdk.BadConfig(c.auth.blame(), "token endpoint %s rejected the client (%s); check %s, and client_auth if the client is registered for another method", ep, detail, c.auth.check())
	case "unauthorized_client", "access_denied":
		return sdk.BadConfig("client_id", "token endpoint %s does not allow this client the %s grant (%s); check client_id and the client's registration, or set grant to one the client may use", ep, c.grant.name(), detail)
	case "invalid_scope":
		return sdk.BadConfig("scopes", "token endpoint %s rejected the requested scopes (%s); check scopes", ep, detail)
	case "invalid_target":
		return sdk.BadConfig("audience", "token endpoint %s rejected the requested audience or resource (%s); check audience, resource and extra_params", ep, detail)
	case "unsupported_grant_type":
		return sdk.BadConfig("grant", "token endpoint %s does not support the %s grant (%s); set grant to one it supports, or check that the client may use it", ep, c.grant.name(), detail)
	case "invalid_grant":
		return c.grant.refused(ep, detail)
	case "invalid_request":
		// RFC 8693 §2.2.2: token exchange answers an invalid subject or actor token with invalid_request.
		if g, ok := c.grant.(*tokenExchange); ok {
			return g.refused(ep, detail)
		}
	}
	switch tokenkit.Classify(status, code) {
	case sdk.KindUnavailable:
		return sdk.Unavailable("token endpoint %s is failing (%s); try again later", ep, detail)
	case sdk.KindBadConfig:
		return sdk.BadConfig("", "token endpoint %s rejected the token request (%s); check %s", ep, detail, requestHint)
	}
	return sdk.Internal("token endpoint %s rejected the token request (%s)", ep, detail)
}

// statusError describes a non-2xx answer that carried no OAuth error.
func (c *config) statusError(ep string, status int, ct string) error {
	what := fmt.Sprintf("answered %d with %s, not a token response", status, tokenhttp.DescribeType(ct))
	switch {
	case tokenkit.Transient(status):
		return sdk.Unavailable("token endpoint %s %s; try again later", ep, what)
	case status >= 300 && status < 400:
		return sdk.BadConfig("token_url", "token endpoint %s answered %d, a redirect, which is not followed; set token_url to the final token endpoint URL", ep, status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return sdk.BadConfig(c.auth.blame(), "token endpoint %s %s; check %s and token_url", ep, what, c.auth.check())
	default:
		return sdk.BadConfig("token_url", "token endpoint %s %s; check token_url", ep, what)
	}
}
