package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// endpoints are the authorization server's URLs: configured ones win, the rest come from the issuer's
// metadata (OIDC Discovery, else RFC 8414), fetched once and cached.
type endpoints struct {
	issuer                       string
	tokenURL, deviceURL, authURL string
	revocationURL                string
	mcp                          *mcpDiscovery // an MCP server's provider: discovery starts at the server
	mu                           sync.Mutex
	meta                         *metadata
}

// metadata is what discovery found.
type metadata struct {
	Issuer     string   `json:"issuer"`
	Token      string   `json:"token_endpoint"`
	Device     string   `json:"device_authorization_endpoint"`
	Authorize  string   `json:"authorization_endpoint"`
	Revocation string   `json:"revocation_endpoint"`
	AuthMethod []string `json:"token_endpoint_auth_methods_supported"`
	mcp        *mcpMeta // what MCP discovery found beside the endpoints
}

// token returns the token endpoint.
func (e *endpoints) token(ctx context.Context, c *config) (string, error) {
	return e.pick(ctx, c, e.tokenURL, func(m *metadata) string { return m.Token }, "token_url", "token_endpoint")
}

// device returns the device authorization endpoint.
func (e *endpoints) device(ctx context.Context, c *config) (string, error) {
	return e.pick(ctx, c, e.deviceURL, func(m *metadata) string { return m.Device }, "device_authorization_url", "device_authorization_endpoint")
}

// authorize returns the authorization endpoint.
func (e *endpoints) authorize(ctx context.Context, c *config) (string, error) {
	return e.pick(ctx, c, e.authURL, func(m *metadata) string { return m.Authorize }, "authorization_url", "authorization_endpoint")
}

// revocation returns the revocation endpoint, or "" when none is known.
func (e *endpoints) revocation(ctx context.Context, c *config) (string, error) {
	if e.revocationURL != "" || (e.issuer == "" && e.mcp == nil) {
		return e.revocationURL, nil
	}
	m, err := e.discover(ctx, c)
	if err != nil {
		return "", err
	}
	return m.Revocation, nil
}

func (e *endpoints) pick(ctx context.Context, c *config, configured string, field func(*metadata) string, option, name string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if e.issuer == "" && e.mcp == nil {
		return "", sdk.BadConfig(option, "is required (or set issuer to discover it)")
	}
	m, err := e.discover(ctx, c)
	if err != nil {
		return "", err
	}
	u, iss := field(m), e.issuer
	if iss == "" {
		iss = m.Issuer
	}
	if u == "" {
		return "", sdk.BadConfig(option, "issuer %s publishes no %s; set %s", iss, name, option)
	}
	if _, err := tokenhttp.CheckURL(u, "https://idp.example/"); err != nil {
		return "", sdk.BadConfig("issuer", "issuer %s publishes a %s that %s; set %s", iss, name, err, option)
	}
	return u, nil
}

// discover fetches and caches the issuer's metadata; a failure is not cached.
func (e *endpoints) discover(ctx context.Context, c *config) (*metadata, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.meta != nil {
		return e.meta, nil
	}
	if e.mcp != nil {
		m, err := e.mcp.discover(ctx, c)
		if err == nil {
			e.meta = m
		}
		return m, err
	}
	base := strings.TrimSuffix(e.issuer, "/")
	var lastErr error
	for _, u := range discoveryURLs(base) {
		m, err := fetchMetadata(ctx, c, u)
		if err != nil {
			lastErr = err
			continue
		}
		if strings.TrimSuffix(m.Issuer, "/") != base {
			return nil, sdk.BadConfig("issuer", "%s names issuer %q, not the configured %s; set issuer to the exact issuer URL", tokenkit.Display(u), tokenhttp.Clean(m.Issuer, 120, nil), e.issuer)
		}
		e.meta = m
		return m, nil
	}
	return nil, lastErr
}

// forget drops the discovered metadata, so the next request discovers again.
func (e *endpoints) forget() {
	e.mu.Lock()
	e.meta = nil
	e.mu.Unlock()
}

// discoveryURLs are OIDC Discovery's URL and RFC 8414's (which inserts the well-known part before the
// issuer's path).
func discoveryURLs(issuer string) []string {
	oidc := issuer + "/.well-known/openid-configuration"
	scheme, rest, _ := strings.Cut(issuer, "://")
	host, path, _ := strings.Cut(rest, "/")
	if path != "" {
		path = "/" + path
	}
	return []string{oidc, scheme + "://" + host + "/.well-known/oauth-authorization-server" + path}
}

func fetchMetadata(ctx context.Context, c *config, u string) (*metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, sdk.BadConfig("issuer", "cannot build a discovery request: %v", err)
	}
	c.setTokenHeaders(req)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.netError(u, err)
	}
	defer resp.Body.Close()
	var m metadata
	if err := decodeJSON(resp, &m); err != nil {
		if tokenkit.Transient(resp.StatusCode) {
			return nil, sdk.Unavailable("discovery at %s answered %d; try again later", tokenkit.Display(u), resp.StatusCode)
		}
		return nil, sdk.BadConfig("issuer", "discovery at %s answered %d %s; check issuer or set token_url", tokenkit.Display(u), resp.StatusCode, err)
	}
	return &m, nil
}
