package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/tokenhost/tokenhost/plugins/internal/reach"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// mcpDiscovery finds an MCP server's authorization server from the server's URL (the MCP authorization
// spec): the protected-resource metadata (RFC 9728) named by the server's 401 challenge, else at the
// well-known URIs; then the authorization server's metadata (RFC 8414, then OpenID discovery). The Go MCP
// SDK fetches and checks both documents (oauthex.GetProtectedResourceMetadata, auth.GetAuthServerMetadata)
// and parses the challenge (oauthex.ParseWWWAuthenticate); the probe and the order of the candidate URLs
// are this file's, since the SDK keeps them inside its own sign-in handler.
type mcpDiscovery struct {
	server   string       // the MCP server's URL
	resource string       // the resource tokens are asked for
	issuer   string       // authorization_server: skips the protected-resource metadata
	origin   *http.Client // for the server's own URLs: the probe and the well-known URIs (mcpMode.guard)
}

// mcpMeta is what MCP discovery adds to the authorization server's endpoints.
type mcpMeta struct {
	registration string   // the RFC 7591 registration endpoint, or ""
	cimd         bool     // the server accepts client ID metadata documents
	scopes       []string // the scopes to ask for when none are configured: the server's challenge, else scopes_supported
}

// discover runs the discovery chain; its errors name the URL that answered wrongly and what was expected.
func (d *mcpDiscovery) discover(ctx context.Context, c *config) (*metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, refused := reach.Watch(ctx)
	issuer := d.issuer
	var scopes []string
	if issuer == "" {
		prm, challenged, err := d.resourceMetadata(ctx, c)
		if err != nil {
			return nil, err
		}
		if len(prm.AuthorizationServers) == 0 {
			return nil, sdk.BadConfig("authorization_server", "the protected-resource metadata of MCP server %s names no authorization_servers; set authorization_server to its authorization server's issuer", tokenkit.Display(d.server))
		}
		issuer = prm.AuthorizationServers[0]
		scopes = challenged
		if len(scopes) == 0 {
			scopes = prm.ScopesSupported
		}
	}
	asm, err := auth.GetAuthServerMetadata(ctx, issuer, c.client)
	if rerr := d.refusedReach(refused(), "its protected-resource metadata names authorization server", issuer, "that issuer"); rerr != nil {
		return nil, rerr
	}
	if err != nil && ctx.Err() != nil {
		return nil, sdk.Unavailable("discovery for MCP server %s did not finish within %s: authorization server %s did not answer; try again", tokenkit.Display(d.server), c.timeout, tokenkit.Display(issuer))
	}
	if err != nil && unanswered(err) {
		return nil, sdk.Unavailable("authorization server %s of MCP server %s could not be reached (%s); try again once it answers", tokenkit.Display(issuer), tokenkit.Display(d.server), tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, nil))
	}
	if err != nil && strings.Contains(err.Error(), "x509:") {
		return nil, sdk.BadConfig("ca_file", "authorization server %s presented a certificate this machine does not trust (%s); set ca_file to the CA certificate that signed it", tokenkit.Display(issuer), tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, nil))
	}
	if err != nil {
		return nil, sdk.BadConfig("authorization_server", "the metadata of authorization server %s is not usable (%s); expected RFC 8414 or OpenID discovery metadata naming that issuer", tokenkit.Display(issuer), tokenhttp.Clean(discoveryWhy(err.Error()), tokenhttp.MaxDescription, nil))
	}
	if asm == nil {
		return nil, sdk.BadConfig("authorization_server", "authorization server %s publishes no metadata at its RFC 8414 or OpenID discovery URLs; set authorization_server to its exact issuer", tokenkit.Display(issuer))
	}
	if !slices.Contains(asm.CodeChallengeMethodsSupported, "S256") {
		return nil, sdk.BadConfig("authorization_server", "authorization server %s does not list S256 in code_challenge_methods_supported; MCP requires PKCE with S256, so tokenhost does not sign in there", tokenkit.Display(issuer))
	}
	if len(c.scopes) == 0 && len(scopes) == 0 {
		scopes = asm.ScopesSupported
	}
	return &metadata{
		Issuer: asm.Issuer, Token: asm.TokenEndpoint, Authorize: asm.AuthorizationEndpoint, Revocation: asm.RevocationEndpoint,
		AuthMethod: asm.TokenEndpointAuthMethodsSupported,
		mcp:        &mcpMeta{registration: asm.RegistrationEndpoint, cimd: asm.ClientIDMetadataDocumentSupported, scopes: scopes},
	}, nil
}

// resourceMetadata fetches the protected-resource metadata and returns it with the scopes the server's
// 401 challenge asked for.
func (d *mcpDiscovery) resourceMetadata(ctx context.Context, c *config) (*oauthex.ProtectedResourceMetadata, []string, error) {
	fromChallenge, scopes, answer, err := d.probe(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	var tried []string
	if answer != 0 {
		tried = append(tried, fmt.Sprintf("%s answered %d to an unauthenticated request, not 401", tokenkit.Display(d.server), answer))
	} else if len(fromChallenge) == 0 {
		tried = append(tried, fmt.Sprintf("%s answered 401 naming no resource_metadata", tokenkit.Display(d.server)))
	}
	otherResource := false
	for i, u := range append(fromChallenge, wellKnownResourceURLs(d.server)...) {
		client := d.origin
		if i < len(fromChallenge) {
			client = c.client // learned from the server's challenge
		}
		wctx, refused := reach.Watch(ctx)
		prm, err := oauthex.GetProtectedResourceMetadata(wctx, u, canonicalResource(d.server), client)
		if rerr := d.refusedReach(refused(), "its 401 challenge names resource_metadata", u, "its authorization server's issuer"); rerr != nil {
			return nil, nil, rerr
		}
		if err == nil {
			return prm, scopes, nil
		}
		if ctx.Err() != nil {
			return nil, nil, sdk.Unavailable("discovery for MCP server %s did not finish within %s; try again", tokenkit.Display(d.server), c.timeout)
		}
		otherResource = otherResource || strings.Contains(err.Error(), "got metadata resource")
		why := discoveryWhy(strings.Replace(strings.TrimPrefix(err.Error(), fmt.Sprintf("GetProtectedResourceMetadata(%q): ", u)), "bad status ", "answered ", 1))
		tried = append(tried, fmt.Sprintf("%s %s", tokenkit.Display(u), tokenhttp.Clean(why, tokenhttp.MaxDescription, nil)))
	}
	key, next := "authorization_server", "set authorization_server to its authorization server's issuer"
	switch {
	case otherResource:
		key, next = "upstream", "check upstream: it must be the exact endpoint the server's metadata names as its resource"
	case answer == http.StatusNotFound:
		key, next = "upstream", "check upstream: the server has nothing at that path; if it is the MCP endpoint, "+next
	}
	return nil, nil, sdk.BadConfig(key, "found no protected-resource metadata (RFC 9728) for MCP server %s; expected JSON naming resource %s and its authorization_servers (%s); %s", tokenkit.Display(d.server), canonicalResource(d.server), strings.Join(tried, "; "), next)
}

// unanswered reports whether err, an error of the MCP Go SDK's discovery, is a request that got no answer
// (connection refused, reset, DNS): the SDK flattens the net/http error into its text, which starts with
// the method and the quoted URL. A certificate the connection refused is not one: ca_file may be wrong.
func unanswered(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, `Get "`) && !strings.Contains(msg, "x509:") && !strings.Contains(msg, "tls:")
}

// probe sends the server an unauthenticated initialize request and reads its 401 challenge: the
// resource_metadata URL and the scopes it names. answer is the status of an answer other than 401.
func (d *mcpDiscovery) probe(ctx context.Context, c *config) (metadataURL []string, scopes []string, answer int, err error) {
	body := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"tokenhost","version":"` + Version + `"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.server, strings.NewReader(body))
	if err != nil {
		return nil, nil, 0, sdk.BadConfig("upstream", "cannot build a request to %s: %v", tokenkit.Display(d.server), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := d.origin.Do(req)
	if err != nil {
		return nil, nil, 0, c.netError(d.server, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, nil, resp.StatusCode, nil
	}
	cs, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return nil, nil, 0, nil // an unreadable challenge: the well-known URIs remain
	}
	for _, ch := range cs {
		if ch.Scheme != "bearer" {
			continue
		}
		if u := ch.Params["resource_metadata"]; u != "" {
			if _, err := tokenhttp.CheckURL(u, "https://tools.example.com/.well-known/oauth-protected-resource"); err != nil {
				return nil, nil, 0, sdk.BadConfig("upstream", "MCP server %s names a resource_metadata URL that %s", tokenkit.Display(d.server), err)
			}
			metadataURL = []string{u}
		}
		scopes = strings.Fields(ch.Params["scope"])
	}
	return metadataURL, scopes, 0, nil
}

// wellKnownResourceURLs are RFC 9728's metadata URIs for server: the well-known part inserted before the
// server's path, then at the root.
func wellKnownResourceURLs(server string) []string {
	u, err := url.Parse(server)
	if err != nil {
		return nil
	}
	root := u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource"
	if p := strings.Trim(u.Path, "/"); p != "" {
		return []string{root + "/" + p, root}
	}
	return []string{root}
}

// maxDiscoveryDocument is how much of a discovery document the MCP Go SDK reads.
const maxDiscoveryDocument = "1 MiB"

// discoveryWhy words an SDK discovery error for a person: a document the SDK stopped reading at its limit
// (or one cut short) is "unexpected EOF" there.
func discoveryWhy(why string) string {
	if strings.HasSuffix(why, "unexpected EOF") {
		return strings.TrimSuffix(why, "unexpected EOF") + "the JSON document ends early: it is cut short or larger than " + maxDiscoveryDocument
	}
	return why
}
