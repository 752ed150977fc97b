package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// DefaultTimeout bounds one token request (or one exec command) when the timeout option is not set.
const DefaultTimeout = 30 * time.Second

// knownOptions lists every option the plugin reads.
var knownOptions = []string{
	"grant", "issuer", "token_url", "device_authorization_url", "authorization_url", "revocation_url",
	"client_id", "client_secret", "client_auth", "auth_style", "private_key_file", "kid", "cert_file", "key_file", "ca_file",
	"scopes", "audience", "resource", "extra_params", "extra_headers", "token_headers", "token_response", "timeout", "store",
	"refresh_token",
	"subject_token_file", "subject_token_env", "subject_token_command", "subject_token_type",
	"actor_token_file", "actor_token_type", "requested_token_type",
	"assertion_file", "assertion_iss", "assertion_sub", "assertion_aud",
	"command", "cache_for", "helper_env", "key_env",
}

// reservedParams are form parameters extra_params may not set: the grant and client authentication are the
// plugin's, and scope has its own option.
var reservedParams = []string{"grant_type", "client_id", "client_secret", "scope", "client_assertion", "client_assertion_type"}

// config is a validated options block.
type config struct {
	grant        grant
	auth         *clientAuth
	endpoints    *endpoints
	scopes       []string
	params       url.Values // audience, resource and extra_params, sent with every token request
	timeout      time.Duration
	headers      map[string]string // extra_headers, sent upstream with the token
	tokenHeaders http.Header       // token_headers, sent on every request to the identity provider
	mapping      mapping
	client       *http.Client
	secrets      []string // configured secrets, redacted from anything quoted
	fleet        bool     // the stored sign-in lives in the fleet store the host offers
	keyFiles     []string // private_key_file, cert_file and key_file: the client's identity, read at Configure
	mcp          *mcpMode // set for an MCP server's provider (plugin mcp)
	registered   bool     // auth's client ID came from a registration stored with the sign-in (plugin mcp)
}

// redact returns the values no message may hold.
func (c *config) redact() []string { return c.secrets }

// parseConfig validates the options block.
func parseConfig(raw map[string]any) (*config, error) {
	o := sdk.Options(raw)
	if err := o.Unknown(knownOptions...); err != nil {
		return nil, err
	}
	name, err := o.String("grant", grantClientCredentials)
	if err != nil {
		return nil, err
	}
	spec, ok := grants[name]
	if !ok {
		return nil, sdk.BadConfig("grant", "unsupported grant %q; supported: %s", name, strings.Join(grantNames(), ", "))
	}
	if err := spec.unused(raw, name); err != nil {
		return nil, err
	}
	c := &config{}
	if c.timeout, err = optcheck.PositiveDuration(o, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if c.headers, err = parseHeaders(o); err != nil {
		return nil, err
	}
	if c.mapping, err = parseMapping(raw["token_response"]); err != nil {
		return nil, err
	}
	if spec.endpoint {
		if err := c.parseEndpoint(o, spec); err != nil {
			return nil, err
		}
	}
	if c.client == nil {
		c.client = tokenhttp.NewClient(tokenhttp.NewTransport(), c.timeout)
	}
	if c.grant, err = spec.parse(o, c); err != nil {
		return nil, err
	}
	return c, nil
}

// parseEndpoint reads what every grant that calls a token endpoint shares.
func (c *config) parseEndpoint(o sdk.Options, spec grantSpec) error {
	e := &endpoints{}
	for _, u := range []struct {
		key string
		dst *string
	}{{"issuer", &e.issuer}, {"token_url", &e.tokenURL}, {"device_authorization_url", &e.deviceURL},
		{"authorization_url", &e.authURL}, {"revocation_url", &e.revocationURL}} {
		v, err := o.String(u.key, "")
		if err != nil {
			return err
		}
		if v == "" {
			continue
		}
		if _, err := tokenhttp.CheckURL(v, "https://idp.example/oauth2/token"); err != nil {
			if err == tokenhttp.ErrUserInfo {
				return sdk.BadConfig(u.key, "%s; use client_id and client_secret", err)
			}
			return sdk.BadConfig(u.key, "%s", err)
		}
		*u.dst = v
	}
	if e.tokenURL == "" && e.issuer == "" {
		return sdk.BadConfig("token_url", "is required: the OAuth token endpoint, e.g. https://idp.example/oauth2/token (or set issuer to discover it)")
	}
	c.endpoints = e

	id, err := o.String("client_id", "")
	if err != nil {
		return err
	}
	id = strings.TrimSpace(id)
	if id == "" && spec.needsClient {
		return sdk.BadConfig("client_id", "is required: the client identifier registered with the token endpoint")
	}
	secret, err := o.String("client_secret", "")
	if err != nil {
		return err
	}
	if c.auth, err = parseClientAuth(o, id, secret, spec.needsAuth); err != nil {
		return err
	}
	c.auth.issuer = e.issuer
	if secret != "" {
		c.secrets = append(c.secrets, secret)
	}
	if err := c.parseKeys(o); err != nil {
		return err
	}

	rawScopes, err := o.Strings("scopes")
	if err != nil {
		return err
	}
	for _, s := range rawScopes {
		c.scopes = append(c.scopes, strings.Fields(s)...)
	}
	if c.params, err = parseParams(o); err != nil {
		return err
	}
	var hidden []string
	if c.tokenHeaders, hidden, err = parseTokenHeaders(o); err != nil {
		return err
	}
	c.secrets = append(c.secrets, hidden...)
	return nil
}

// parseKeys reads private_key_file / kid (private_key_jwt, jwt_bearer) and cert_file / key_file
// (tls_client_auth), and builds the HTTP client that presents the certificate.
func (c *config) parseKeys(o sdk.Options) error {
	keyPath, err := o.String("private_key_file", "")
	if err != nil {
		return err
	}
	kid, err := o.String("kid", "")
	if err != nil {
		return err
	}
	if c.auth.method == authJWT && keyPath == "" {
		return sdk.BadConfig("private_key_file", "is required with client_auth private_key_jwt: the client's private key (PEM or JWK)")
	}
	if keyPath != "" {
		if c.auth.key, err = loadKey(keyPath, kid); err != nil {
			return err
		}
		c.keyFiles = append(c.keyFiles, keyPath)
	}
	certFile, err := o.String("cert_file", "")
	if err != nil {
		return err
	}
	keyFile, err := o.String("key_file", "")
	if err != nil {
		return err
	}
	caFile, err := o.String("ca_file", "")
	if err != nil {
		return err
	}
	if c.auth.method != authTLS && certFile != "" {
		return sdk.BadConfig("cert_file", "is read only with client_auth tls_client_auth")
	}
	if c.auth.method != authTLS && caFile == "" {
		return nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return sdk.BadConfig("ca_file", "cannot read %s: %s", caFile, fsmsg.Reason(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return sdk.BadConfig("ca_file", "%s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if c.auth.method == authTLS {
		if certFile == "" || keyFile == "" {
			return sdk.BadConfig("cert_file", "cert_file and key_file are required with client_auth tls_client_auth")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return sdk.BadConfig("cert_file", "cannot load the client certificate from cert_file and key_file: %s", fsmsg.Reason(err))
		}
		tc.Certificates = []tls.Certificate{cert}
		c.keyFiles = append(c.keyFiles, certFile, keyFile)
	}
	t, ok := tokenhttp.NewTransport().(*http.Transport)
	if !ok {
		return sdk.Internal("no TLS transport for the token endpoint")
	}
	t.TLSClientConfig = tc
	c.client = tokenhttp.NewClient(t, c.timeout)
	return nil
}

// parseParams reads audience, resource and extra_params.
func parseParams(o sdk.Options) (url.Values, error) {
	params := url.Values{}
	extra, err := o.StringMap("extra_params")
	if err != nil {
		return nil, err
	}
	audience, err := o.String("audience", "")
	if err != nil {
		return nil, err
	}
	resource, err := o.String("resource", "")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(extra))
	for k := range extra {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case strings.TrimSpace(k) == "":
			return nil, sdk.BadConfig("extra_params", "parameter names must not be empty")
		case slices.Contains(reservedParams, k):
			hint := "it is set by the plugin"
			if k == "scope" {
				hint = "use the scopes option"
			}
			return nil, sdk.BadConfig("extra_params."+k, "cannot override the %s parameter; %s", k, hint)
		case k == "audience" && audience != "":
			return nil, sdk.BadConfig("extra_params.audience", "conflicts with the audience option; give one of them")
		case k == "resource" && resource != "":
			return nil, sdk.BadConfig("extra_params.resource", "conflicts with the resource option; give one of them")
		}
		params.Set(k, extra[k])
	}
	if audience != "" {
		params.Set("audience", audience)
	}
	if resource != "" {
		params.Set("resource", resource)
	}
	return params, nil
}

// parseHeaders reads extra_headers: static headers sent upstream with every token.
func parseHeaders(o sdk.Options) (map[string]string, error) {
	h, err := o.StringMap("extra_headers")
	if err != nil || len(h) == 0 {
		return nil, err
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		ck := http.CanonicalHeaderKey(strings.TrimSpace(k))
		switch {
		case ck == "" || strings.ContainsAny(ck, " :\t\r\n"):
			return nil, sdk.BadConfig("extra_headers", "%q is not a header name", k)
		case ck == "Authorization" || ck == "Host" || ck == "Cookie":
			return nil, sdk.BadConfig("extra_headers."+k, "%s is set by the host; it cannot be an extra header", ck)
		case tokenhttp.HasControl(v):
			return nil, sdk.BadConfig("extra_headers."+k, "holds control characters")
		}
		out[ck] = v
	}
	return out, nil
}

// parseMapping reads token_response.
func parseMapping(v any) (mapping, error) {
	m := mapping{tokenField: "access_token", expiryField: "expires_in", format: expirySeconds}
	if v == nil {
		return m, nil
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return m, sdk.BadConfig("token_response", "must be a mapping with token_field, expiry_field and expiry_format")
	}
	sub := sdk.Options(raw)
	if err := sub.Unknown("token_field", "expiry_field", "expiry_format"); err != nil {
		return m, sdk.BadConfig("token_response", "%s", err)
	}
	var err error
	if m.tokenField, err = sub.String("token_field", m.tokenField); err != nil {
		return m, sdk.BadConfig("token_response.token_field", "%s", err)
	}
	if m.expiryField, err = sub.String("expiry_field", m.expiryField); err != nil {
		return m, sdk.BadConfig("token_response.expiry_field", "%s", err)
	}
	def := expirySeconds
	if m.expiryField != "expires_in" {
		def = ""
	}
	if m.format, err = sub.String("expiry_format", def); err != nil {
		return m, sdk.BadConfig("token_response.expiry_format", "%s", err)
	}
	switch m.format {
	case expirySeconds, expiryUnix, expiryRFC3339:
	case "":
		return m, sdk.BadConfig("token_response.expiry_format", "is required with expiry_field %q: seconds, unix or rfc3339", m.expiryField)
	default:
		return m, sdk.BadConfig("token_response.expiry_format", "must be seconds, unix or rfc3339, got %q", m.format)
	}
	if strings.TrimSpace(m.tokenField) == "" {
		return m, sdk.BadConfig("token_response.token_field", "must not be empty")
	}
	return m, nil
}

// mode describes the configuration for Info.Mode.
func (c *config) mode() string {
	if c.auth == nil {
		return c.grant.name()
	}
	return fmt.Sprintf("%s (%s)", c.grant.name(), c.auth.label())
}
