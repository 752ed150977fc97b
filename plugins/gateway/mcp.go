package gateway

import (
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// MCPName is the name of the built-in plugin for MCP servers, served by this package in its MCP mode.
const MCPName = "mcp"

// NewMCP returns an unconfigured Source for an MCP server: the gateway's sign-ins, stores and grants,
// with everything else discovered from the server's URL (docs/mcp.md).
func NewMCP() sdk.Source { return newSource(func(s *source) { s.mcp = true }) }

// mcpOptions lists every option the mcp plugin reads; upstream is set by the host from the provider's
// upstream.
var mcpOptions = []string{
	"upstream", "grant", "authorization_server", "client_id", "client_secret", "client_auth", "private_key_file", "kid",
	"cert_file", "key_file", "ca_file", "client_metadata_url", "scopes", "resource", "store", "timeout",
}

// mcpGrants are the grants an MCP server's provider may use.
var mcpGrants = []string{grantAuthCode, grantClientCredentials}

// mcpMode is what a configuration for an MCP server adds to the gateway's.
type mcpMode struct {
	server      string // the MCP server's URL (the provider's upstream)
	resource    string // its canonical URI, the RFC 8707 resource every authorization and token request names
	metadataURL string // client_metadata_url: a client ID metadata document
	disc        *mcpDiscovery

	mu      sync.Mutex
	stepped []string // scopes a step-up added to a client credentials provider's requests
}

// parseMCP validates an mcp provider's options block.
func parseMCP(raw map[string]any) (*config, error) {
	o := sdk.Options(raw)
	if err := o.Unknown(mcpOptions...); err != nil {
		return nil, err
	}
	server, err := o.String("upstream", "")
	if err != nil {
		return nil, err
	}
	if server == "" {
		return nil, sdk.BadConfig("upstream", "is required: the MCP server's URL, e.g. https://tools.example.com/mcp")
	}
	if _, err := tokenhttp.CheckURL(server, "https://tools.example.com/mcp"); err != nil {
		return nil, sdk.BadConfig("upstream", "%s", err)
	}
	name, err := o.String("grant", grantAuthCode)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(mcpGrants, name) {
		return nil, sdk.BadConfig("grant", "plugin mcp supports grant %s, got %q", strings.Join(mcpGrants, " or "), name)
	}
	modes := optcheck.ByMode(map[string][]string{grantAuthCode: {"client_metadata_url", "store"}}, mcpGrants)
	if key, readBy := modes.Unused(raw, mcpOptions, name); key != "" {
		return nil, sdk.BadConfig(key, "is read only with grant %s; this provider's grant is %s", strings.Join(readBy, " or "), name)
	}
	m := &mcpMode{server: server, resource: canonicalResource(server)}
	if m.resource, err = o.String("resource", m.resource); err != nil {
		return nil, err
	}
	if m.metadataURL, err = o.String("client_metadata_url", ""); err != nil {
		return nil, err
	}
	if m.metadataURL != "" {
		if u, perr := url.Parse(m.metadataURL); perr != nil || u.Scheme != "https" || u.Path == "" || u.Path == "/" {
			return nil, sdk.BadConfig("client_metadata_url", "must be an https URL with a path, where the client's metadata document is served")
		}
	}
	as, err := o.String("authorization_server", "")
	if err != nil {
		return nil, err
	}
	if as != "" {
		if _, err := tokenhttp.CheckURL(as, "https://auth.example.com"); err != nil {
			return nil, sdk.BadConfig("authorization_server", "%s", err)
		}
	}
	m.disc = &mcpDiscovery{server: server, resource: m.resource, issuer: as}

	c := &config{mcp: m, params: url.Values{"resource": {m.resource}}, mapping: mapping{tokenField: "access_token", expiryField: "expires_in", format: expirySeconds}}
	if c.timeout, err = optcheck.PositiveDuration(o, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	c.client = tokenhttp.NewClient(tokenhttp.NewTransport(), c.timeout)
	c.endpoints = &endpoints{mcp: m.disc}
	id, err := o.String("client_id", "")
	if err != nil {
		return nil, err
	}
	secret, err := o.String("client_secret", "")
	if err != nil {
		return nil, err
	}
	if c.auth, err = parseClientAuth(o, strings.TrimSpace(id), secret, name == grantClientCredentials); err != nil {
		return nil, err
	}
	if name == grantClientCredentials && c.auth.id == "" {
		return nil, sdk.BadConfig("client_id", "is required with grant client_credentials: the machine client registered with the server's authorization server")
	}
	if secret != "" {
		c.secrets = append(c.secrets, secret)
	}
	if err := c.parseKeys(o); err != nil {
		return nil, err
	}
	if err := m.guard(c); err != nil {
		return nil, err
	}
	rawScopes, err := o.Strings("scopes")
	if err != nil {
		return nil, err
	}
	for _, s := range rawScopes {
		c.scopes = append(c.scopes, strings.Fields(s)...)
	}
	if name == grantClientCredentials {
		c.grant = &mcpClientCredentials{}
		return c, nil
	}
	if c.grant, err = parseStored(grantAuthCode)(o, c); err != nil {
		return nil, err
	}
	return c, nil
}

// canonicalResource is an MCP server's canonical URI (RFC 8707, as the MCP authorization spec puts it):
// scheme and host in lower case, no fragment, no query, no trailing slash.
func canonicalResource(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	u.Fragment, u.RawFragment, u.RawQuery, u.ForceQuery = "", "", "", false
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// mcpInfo is Info for an MCP server: its tokens go to the server's own host and nowhere else.
func (c *config) mcpInfo(info sdk.Info) sdk.Info {
	info.Name = MCPName
	info.Upstream = c.mcp.server
	info.AllowedHosts = nil
	return info
}

// server names the sign-in's server in its store's name: the issuer, the token endpoint, or for an MCP
// server its resource.
func (c *config) server() string {
	switch {
	case c.mcp != nil:
		return c.mcp.resource
	case c.endpoints.issuer != "":
		return c.endpoints.issuer
	}
	return c.endpoints.tokenURL
}

// union returns a with the scopes of b it lacks appended, without duplicates.
func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, s := range append(slices.Clone(a), b...) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// covers reports whether have holds every scope of want.
func covers(have, want []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}
