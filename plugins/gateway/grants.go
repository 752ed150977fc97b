package gateway

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/sdk"
)

// Grant names (options.grant).
const (
	grantClientCredentials = "client_credentials"
	grantDeviceCode        = "device_code"
	grantAuthCode          = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantTokenExchange     = "token_exchange"
	grantJWTBearer         = "jwt_bearer"
	grantExec              = "exec"
	grantStatic            = "static"
)

// GrantClientCredentials is the OAuth 2.0 client credentials grant (RFC 6749 §4.4), the default.
const GrantClientCredentials = grantClientCredentials

// grant is one way of getting a token.
type grant interface {
	// name is the grant option's value.
	name() string
	// fetch gets a new token; stale is the token the host saw rejected ("" from Token).
	fetch(ctx context.Context, c *config, stale string) (sdk.Token, error)
	// refused explains an invalid_grant answer from ep.
	refused(ep, detail string) error
}

// grantSpec describes a grant's options and how to parse them.
type grantSpec struct {
	endpoint    bool // calls a token endpoint, so reads the endpoint and client options
	needsClient bool // client_id is required
	needsAuth   bool // client authentication other than none is required
	options     []string
	parse       func(o sdk.Options, c *config) (grant, error)
}

// endpointOptions are read by every grant that calls a token endpoint.
var endpointOptions = []string{
	"issuer", "token_url", "device_authorization_url", "authorization_url", "revocation_url",
	"client_id", "client_secret", "client_auth", "auth_style", "private_key_file", "kid", "cert_file", "ca_file",
	"scopes", "audience", "resource", "extra_params", "token_headers", "token_response",
}

// grants are the grants the plugin supports.
var grants = map[string]grantSpec{
	grantClientCredentials: {endpoint: true, needsClient: true, needsAuth: true, parse: parseClientCredentials},
	grantDeviceCode:        {endpoint: true, needsClient: true, options: []string{"store"}, parse: parseStored(grantDeviceCode)},
	grantAuthCode:          {endpoint: true, needsClient: true, options: []string{"store"}, parse: parseStored(grantAuthCode)},
	grantRefreshToken:      {endpoint: true, needsClient: true, options: []string{"store", "refresh_token"}, parse: parseStored(grantRefreshToken)},
	grantTokenExchange: {endpoint: true, options: []string{"subject_token_file", "subject_token_env", "subject_token_command",
		"subject_token_type", "actor_token_file", "actor_token_type", "requested_token_type", "helper_env"}, parse: parseTokenExchange},
	grantJWTBearer: {endpoint: true, options: []string{"assertion_file", "assertion_iss", "assertion_sub", "assertion_aud"}, parse: parseJWTBearer},
	grantExec:      {options: []string{"command", "cache_for", "helper_env"}, parse: parseExec},
	grantStatic:    {options: []string{"key_env", "key_file"}, parse: parseStatic},
}

// grantNames lists the grants in a stable order.
func grantNames() []string {
	return []string{grantClientCredentials, grantDeviceCode, grantAuthCode, grantRefreshToken, grantTokenExchange,
		grantJWTBearer, grantExec, grantStatic}
}

// unused refuses an option the grant does not read.
func (s grantSpec) unused(raw map[string]any, name string) error {
	per := map[string][]string{}
	for _, g := range grantNames() {
		spec := grants[g]
		per[g] = slices.Clone(spec.options)
		if spec.endpoint {
			per[g] = append(per[g], endpointOptions...)
			if !slices.Contains(per[g], "key_file") {
				per[g] = append(per[g], "key_file")
			}
		}
	}
	key, readBy := optcheck.ByMode(per, grantNames()).Unused(raw, knownOptions, name)
	if key == "" {
		return nil
	}
	return sdk.BadConfig(key, "is read only with grant %s; this provider's grant is %s", strings.Join(readBy, " or "), name)
}

// form is the start of a token request: grant_type, scope and the configured parameters.
func (c *config) form(grantType string) url.Values {
	f := url.Values{"grant_type": {grantType}}
	if len(c.scopes) > 0 {
		f.Set("scope", strings.Join(c.scopes, " "))
	}
	for k, v := range c.params {
		f[k] = v
	}
	return f
}

// request sends a token request and turns its answer into a token or an explained error.
func (c *config) request(ctx context.Context, f url.Values) (tokenResponse, error) {
	tr, err := c.token(ctx, f)
	if err != nil {
		ep, _ := c.endpoints.token(ctx, c) // known by now: the request was sent to it
		return tokenResponse{}, c.explain(err, ep)
	}
	return tr, nil
}

// hiding returns a copy of c whose messages also redact values (a subject token, an assertion, a refresh
// token, a device code) sent in one request.
func (c *config) hiding(values ...string) *config {
	cc := *c
	cc.secrets = append(append([]string{}, c.secrets...), values...)
	return &cc
}

// fetchToken sends a token request and makes its answer a token.
func (c *config) fetchToken(ctx context.Context, f url.Values) (sdk.Token, error) {
	tr, err := c.request(ctx, f)
	if err != nil {
		return sdk.Token{}, err
	}
	return c.toToken(tr), nil
}

// toToken makes an sdk.Token of a token response, with the extra headers.
func (c *config) toToken(tr tokenResponse) sdk.Token {
	return sdk.Token{Value: tr.access, Type: tr.tokenType, Expiry: tr.expiry, Headers: c.headers}
}

// clientCredentials is the client credentials grant.
type clientCredentials struct{}

func parseClientCredentials(sdk.Options, *config) (grant, error) { return clientCredentials{}, nil }

func (clientCredentials) name() string { return grantClientCredentials }

func (clientCredentials) fetch(ctx context.Context, c *config, _ string) (sdk.Token, error) {
	return c.fetchToken(ctx, c.form("client_credentials"))
}

// refused: in the client credentials grant there is no user whose sign-in could have ended.
func (clientCredentials) refused(ep, detail string) error {
	return sdk.BadConfig("grant", "token endpoint %s refused the client_credentials grant (%s); check that the client may use it", ep, detail)
}
