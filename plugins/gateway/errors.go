package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// exchange records what the token endpoint answered, for error messages oauth2 does not give.
type exchange struct {
	mu          sync.Mutex
	status      int
	contentType string
}

func (x *exchange) get() (int, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.contentType
}

type exchangeKey struct{}

// recordingTransport notes the status and content type of each response in the request context's exchange.
type recordingTransport struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		if x, ok := req.Context().Value(exchangeKey{}).(*exchange); ok {
			x.mu.Lock()
			x.status, x.contentType = resp.StatusCode, resp.Header.Get("Content-Type")
			x.mu.Unlock()
		}
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of the underlying transport.
func (t *recordingTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// classify turns a failed token request into an sdk error that says what failed and what to do next. It
// never quotes the response body, the client secret or a token; secrets are redacted from what it quotes.
func classify(err error, x *exchange, cfg *config, redact ...string) error {
	redact = append(redact, cfg.secret)
	ep := cfg.endpoint

	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status, ct := 0, ""
		if re.Response != nil {
			status, ct = re.Response.StatusCode, re.Response.Header.Get("Content-Type")
		}
		if re.ErrorCode != "" {
			return oauthError(ep, status, tokenhttp.Clean(re.ErrorCode, 64, redact), tokenhttp.Clean(re.ErrorDescription, tokenhttp.MaxDescription, redact))
		}
		return statusError(ep, status, ct)
	}

	if tokenhttp.IsTimeout(err) {
		return sdk.Unavailable("token endpoint %s did not answer within %s; it may be overloaded or unreachable (raise timeout if it is just slow)", ep, cfg.timeout)
	}
	if status, ct := x.get(); status != 0 {
		// An answer arrived but oauth2 could not use it (a 2xx that is not a token response).
		if strings.Contains(err.Error(), "missing access_token") {
			return sdk.Unavailable("token endpoint %s answered %d without an access_token", ep, status)
		}
		return sdk.Unavailable("token endpoint %s answered %d with %s, not a token response", ep, status, tokenhttp.DescribeType(ct))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return sdk.Unavailable("token endpoint %s could not be reached: %s", ep, tokenhttp.Clean(tokenhttp.NetReason(ue.Err), tokenhttp.MaxDescription, redact))
	}
	return sdk.Internal("token request to %s failed: %s", ep, tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, redact))
}

// oauthError maps an RFC 6749 §5.2 error response to an error kind and a next step: the codes that point
// at an option blame it, tokenhttp.Classify decides the rest. In the client credentials grant there is no
// user whose sign-in could have ended, so invalid_grant blames the grant, not the user.
func oauthError(ep string, status int, code, desc string) error {
	detail := fmt.Sprintf("%d %s", status, code)
	if desc != "" {
		detail += ": " + desc
	}
	switch code {
	case "invalid_client":
		return sdk.BadConfig("client_secret", "token endpoint %s rejected the client (%s); check client_id and client_secret", ep, detail)
	case "unauthorized_client", "access_denied":
		return sdk.BadConfig("client_id", "token endpoint %s does not allow this client the client_credentials grant (%s); check client_id and the client's registration", ep, detail)
	case "invalid_scope":
		return sdk.BadConfig("scopes", "token endpoint %s rejected the requested scopes (%s); check scopes", ep, detail)
	case "invalid_target":
		return sdk.BadConfig("audience", "token endpoint %s rejected the requested audience or resource (%s); check audience and extra_params", ep, detail)
	case "unsupported_grant_type", "invalid_grant":
		return sdk.BadConfig("grant", "token endpoint %s refused the client_credentials grant (%s); check that the client may use it", ep, detail)
	}
	switch tokenhttp.Classify(status, code) {
	case sdk.KindUnavailable:
		return sdk.Unavailable("token endpoint %s is failing (%s); try again later", ep, detail)
	case sdk.KindBadConfig:
		return sdk.BadConfig("", "token endpoint %s rejected the token request (%s); check audience and extra_params", ep, detail)
	}
	return sdk.Internal("token endpoint %s rejected the token request (%s)", ep, detail)
}

// statusError describes a non-2xx answer that carried no OAuth error.
func statusError(ep string, status int, ct string) error {
	what := fmt.Sprintf("answered %d with %s, not a token response", status, tokenhttp.DescribeType(ct))
	switch {
	case tokenhttp.Transient(status):
		return sdk.Unavailable("token endpoint %s %s; try again later", ep, what)
	case status >= 300 && status < 400:
		return sdk.BadConfig("token_url", "token endpoint %s answered %d, a redirect, which is not followed; set token_url to the final token endpoint URL", ep, status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return sdk.BadConfig("client_secret", "token endpoint %s %s; check client_id, client_secret and token_url", ep, what)
	default:
		return sdk.BadConfig("token_url", "token endpoint %s %s; check token_url", ep, what)
	}
}
