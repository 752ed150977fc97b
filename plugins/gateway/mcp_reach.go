package gateway

import (
	"errors"
	"net/http"

	"github.com/tokenhost/tokenhost/plugins/internal/reach"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// publicAddr decides which addresses count as public for MCP discovery's reach rule.
var publicAddr = reach.IsPublic

// guard sets up the clients of an MCP server's provider that discovers its authorization server: the
// server's own URLs (the probe, the well-known URIs) go through an origin client that learns the server's
// address, and every URL discovery learns from the server goes through c.client, which while the server is
// public reaches public addresses only (package reach). With authorization_server configured nothing is
// learned from the server, so both stay the plain client: the user vouched for that issuer and for the
// endpoints its metadata names.
func (m *mcpMode) guard(c *config) error {
	m.disc.origin = c.client
	if m.disc.issuer != "" {
		return nil
	}
	t, ok := c.client.Transport.(*http.Transport)
	if !ok {
		return sdk.Internal("no HTTP transport for MCP server %s", tokenkit.Display(m.server))
	}
	g := reach.New(m.server, reach.WithPublic(publicAddr))
	m.disc.origin = tokenhttp.NewClient(g.Origin(t), c.timeout)
	c.client = tokenhttp.NewClient(g.Learned(t), c.timeout)
	return nil
}

// refusedReach returns the error for a request to u that the reach rule refused, or nil when r is nil.
// named says what pointed at u ("its protected-resource metadata names authorization server"), issuer
// the issuer to trust instead ("that issuer").
func (d *mcpDiscovery) refusedReach(r *reach.Refused, named, u, issuer string) error {
	if r == nil {
		return nil
	}
	return sdk.BadConfig("authorization_server", "MCP server %s is on a public address (%s) but %s %s, which is on %s, a private or reserved address; tokenhost does not follow a public server to private addresses — set authorization_server to %s if you trust it",
		tokenkit.Display(d.server), r.Server, named, tokenkit.Display(u), r.Where(), issuer)
}

// reachError is netError's answer for a request to endpoint that the reach rule refused: endpoint came
// from the metadata of the authorization server discovery found. It is nil for any other failure.
func (c *config) reachError(endpoint string, err error) error {
	var r *reach.Refused
	if c.mcp == nil || !errors.As(err, &r) {
		return nil
	}
	_, issuer, _ := c.endpoints.found()
	return c.mcp.disc.refusedReach(r, "the metadata of its authorization server "+tokenkit.Display(issuer)+" names", endpoint, tokenkit.Display(issuer))
}
