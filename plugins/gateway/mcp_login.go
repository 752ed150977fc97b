package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// How a client ID was obtained without client_id (signIn.Registered).
const (
	registeredDynamic  = "dynamic"
	registeredDocument = "metadata_document"
)

// mcpLogin signs a person in to an MCP server's authorization server: discovery afresh, the client
// (configured, stored from an earlier registration, a metadata document, or registered now), then the
// browser sign-in with PKCE for the scopes wanted, and the sign-in stored with its client and scopes.
func (s *source) mcpLogin(ctx context.Context, c *config, g *storedGrant, ui sdk.UI) (sdk.LoginResult, error) {
	c.endpoints.forget()
	m, err := c.endpoints.discover(ctx, c)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	prev, err := g.peek(ctx, c)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	wanted := c.scopes
	if len(wanted) == 0 {
		wanted = m.mcp.scopes
	}
	wanted = union(wanted, prev.Scopes)
	id, how := c.auth.id, ""
	if id == "" {
		if id, how, err = c.mcpClientID(ctx, m, prev); err != nil {
			return sdk.LoginResult{}, err
		}
		if how == registeredDynamic && id != prev.ClientID {
			// Kept at once, so that a sign-in abandoned in the browser does not cost another registration.
			if err := g.keepRegistration(ctx, c, signIn{ClientID: id, Registered: how, Issuer: m.Issuer, Scopes: wanted}); err != nil {
				return sdk.LoginResult{}, err
			}
		}
	}
	cc := c.withClient(id, how != "")
	cc.scopes = wanted
	tr, err := s.browserLogin(ctx, cc, ui)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	unlock, err := g.store.lock(ctx, c.timeout)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	defer unlock()
	si := signIn{ClientID: id, Registered: how, Scopes: wanted}
	g.update(&si, tr)
	if err := g.store.put(ctx, si); err != nil {
		return sdk.LoginResult{}, err
	}
	s.st.Store(c, g.token(si))
	msg := fmt.Sprintf("Signed in to %s at %s for scopes %q; the sign-in is stored in %s.", tokenkit.Display(c.mcp.server), tokenkit.Display(m.Issuer), strings.Join(wanted, " "), g.store.where())
	if tr.refresh == "" {
		msg += " The authorization server issued no refresh token, so you will need to sign in again when the access token expires."
	}
	return sdk.LoginResult{Message: msg, Expiry: tr.expiry}, nil
}

// peek reads the stored sign-in (the zero signIn when there is none or it cannot be used) under its lock.
func (g *storedGrant) peek(ctx context.Context, c *config) (signIn, error) {
	unlock, err := g.store.lock(ctx, c.timeout)
	if err != nil {
		return signIn{}, err
	}
	defer unlock()
	cur, err := g.store.load(ctx)
	if err != nil || !cur.ok {
		if sdk.IsKind(err, sdk.KindUnavailable) {
			return signIn{}, err
		}
		return signIn{}, nil
	}
	return cur.si, nil
}

// keepRegistration stores si, a new registration with no tokens yet, as the sign-in.
func (g *storedGrant) keepRegistration(ctx context.Context, c *config, si signIn) error {
	unlock, err := g.store.lock(ctx, c.timeout)
	if err != nil {
		return err
	}
	defer unlock()
	si.Updated = time.Now().UTC()
	return g.store.put(ctx, si)
}

// mcpClientID finds the client to sign in with when client_id is not configured: the one registered for
// an earlier sign-in at the same authorization server, else the client ID metadata document when the
// server accepts one, else a dynamic registration (RFC 7591) of a public client with a loopback redirect.
func (c *config) mcpClientID(ctx context.Context, m *metadata, prev signIn) (id, how string, err error) {
	if prev.Registered != "" && prev.ClientID != "" && prev.Issuer == m.Issuer {
		return prev.ClientID, prev.Registered, nil
	}
	if c.mcp.metadataURL != "" && m.mcp.cimd {
		return c.mcp.metadataURL, registeredDocument, nil
	}
	iss := tokenkit.Display(m.Issuer)
	if m.mcp.registration == "" {
		hint := ""
		if c.mcp.metadataURL != "" {
			hint = " and does not accept client ID metadata documents (client_id_metadata_document_supported)"
		}
		return "", "", sdk.BadConfig("client_id", "authorization server %s publishes no registration_endpoint for dynamic client registration%s; register a client there and set client_id", iss, hint)
	}
	if _, err := tokenhttp.CheckURL(m.mcp.registration, "https://auth.example.com/register"); err != nil {
		return "", "", sdk.BadConfig("client_id", "authorization server %s publishes a registration_endpoint that %s; register a client there and set client_id", iss, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := oauthex.RegisterClient(rctx, m.mcp.registration, &oauthex.ClientRegistrationMetadata{
		RedirectURIs:            []string{"http://127.0.0.1" + callbackPath},
		TokenEndpointAuthMethod: authNone,
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ClientName:              "tokenhost",
		ApplicationType:         "native",
	}, c.client)
	if err != nil {
		// The SDK's error may quote the answer, which can hold a client secret: only the error code or
		// the network failure is told.
		var re *oauthex.ClientRegistrationError
		var ue *url.Error
		detail := "an answer that is not a registration"
		switch {
		case errors.As(err, &re):
			detail = "400 " + tokenkit.SafeCode(re.ErrorCode)
		case errors.As(err, &ue):
			return "", "", c.netError(m.mcp.registration, ue.Err)
		}
		return "", "", sdk.BadConfig("client_id", "dynamic client registration at %s failed (%s); register a client at %s and set client_id", tokenkit.Display(m.mcp.registration), detail, iss)
	}
	if resp.ClientSecret != "" {
		return "", "", sdk.BadConfig("client_id", "registration endpoint %s registered a confidential client although a public one (token_endpoint_auth_method none) was asked for; register a client at %s and set client_id and client_secret", tokenkit.Display(m.mcp.registration), iss)
	}
	return resp.ClientID, registeredDynamic, nil
}

// withClient returns a copy of c that signs in as the client id; registered says the ID came from a
// registration stored with the sign-in rather than from client_id.
func (c *config) withClient(id string, registered bool) *config {
	cc := *c
	a := *c.auth
	a.id = id
	cc.auth = &a
	cc.registered = registered
	return &cc
}

// mcpSignedIn readies the refresh of an MCP server's stored sign-in: the client it was made with, and the
// endpoints discovery found then, until a request to them fails.
func (c *config) mcpSignedIn(si signIn, where string) (*config, error) {
	cc := c
	if c.auth.id == "" {
		if si.ClientID == "" {
			return nil, sdk.ReauthRequired("the stored sign-in at %s names no client; %s", where, loginHint)
		}
		cc = c.withClient(si.ClientID, si.Registered != "")
	}
	if si.Endpoint != "" {
		c.endpoints.seed(&metadata{Issuer: si.Issuer, Token: si.Endpoint, Revocation: si.Revocation})
	}
	return cc, nil
}

// mcpRefreshFailed explains a failed refresh of an MCP server's sign-in. A registered client the
// authorization server no longer accepts is forgotten, so that the next sign-in registers again; any
// other failure makes the next request discover the endpoints again.
func (g *storedGrant) mcpRefreshFailed(ctx context.Context, c *config, si signIn, err error) error {
	var se *sdk.Error
	if c.registered && errors.As(err, &se) && se.Kind == sdk.KindBadConfig && se.Key == "client_id" {
		if perr := g.store.put(ctx, signIn{Scopes: si.Scopes}); perr != nil {
			return perr
		}
		return sdk.ReauthRequired("authorization server %s no longer accepts the client tokenhost registered for this sign-in; run `tokenhost login <provider>`, which registers again", tokenkit.Display(si.Issuer))
	}
	if !sdk.IsKind(err, sdk.KindReauthRequired) {
		c.endpoints.forget()
	}
	return err
}

// found returns the token endpoint, issuer and revocation endpoint discovery found ("" before it ran).
func (e *endpoints) found() (token, issuer, revocation string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.meta == nil {
		return "", "", ""
	}
	return e.meta.Token, e.meta.Issuer, e.meta.Revocation
}

// seed takes m, the endpoints a stored sign-in names, as discovered when nothing is discovered yet.
func (e *endpoints) seed(m *metadata) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.meta == nil {
		e.meta = m
	}
}
