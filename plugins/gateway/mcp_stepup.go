package gateway

import (
	"context"
	"slices"
	"strings"

	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

var _ sdk.RejectionAware = (*source)(nil)

// RefreshRejected implements sdk.RejectionAware. For an MCP server whose challenge is insufficient_scope
// with a scope, it asks for the union of the scopes held and those challenged: a client credentials
// provider gets a token for them at once; a signed-in person's provider tries a refresh for them and,
// when the authorization server does not grant them that way, remembers them for the next sign-in and
// answers ReauthRequired naming them. Any other rejection is Refresh's.
func (s *source) RefreshRejected(ctx context.Context, rejected sdk.Token, why sdk.Rejection) (sdk.Token, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	needed := challengedScopes(why.Challenge)
	if cfg.mcp == nil || len(needed) == 0 {
		return s.Refresh(ctx, rejected)
	}
	switch g := cfg.grant.(type) {
	case *mcpClientCredentials:
		if err := cfg.mcp.step(needed); err != nil {
			return sdk.Token{}, err
		}
		return s.Refresh(ctx, rejected)
	case *storedGrant:
		return s.sf.Do(ctx, "step-up "+flight.RefreshKey(rejected.Value), func() (sdk.Token, error) {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout+lockSlack)
			defer cancel()
			t, err := g.stepUp(fctx, cfg, rejected, needed)
			if err == nil {
				s.st.Store(cfg, t)
			}
			return t, err
		})
	}
	return s.Refresh(ctx, rejected)
}

// challengedScopes returns the scopes of a Bearer insufficient_scope challenge, or nil.
func challengedScopes(challenge string) []string {
	for _, c := range sdk.ParseChallenges(challenge) {
		if strings.EqualFold(c.Scheme, "Bearer") && c.Params["error"] == "insufficient_scope" {
			var out []string
			for _, sc := range strings.Fields(c.Params["scope"]) {
				if tokenkit.SafeCode(sc) == sc { // scope tokens are printable ASCII without quotes or backslashes
					out = append(out, sc)
				}
			}
			return out
		}
	}
	return nil
}

// maxStepUpScopes bounds, in bytes of the space-separated list, the scopes a step-up may make a provider
// ask for: one challenge is at most sdk.MaxChallengeBytes, but a server could name new ones in every 403.
const maxStepUpScopes = sdk.MaxChallengeBytes

// tooManyScopes is the error for a step-up to want, a list longer than maxStepUpScopes.
func (m *mcpMode) tooManyScopes(want []string) error {
	if n := len(strings.Join(want, " ")); n > maxStepUpScopes {
		return sdk.BadConfig("scopes", "MCP server %s asked, in its 403 insufficient_scope answers, for %d scopes (%d bytes), more than the %d bytes tokenhost asks for at once; not widened. Check the server, then set scopes to what the provider needs", tokenkit.Display(m.server), len(want), n, maxStepUpScopes)
	}
	return nil
}

// step adds scopes to those a client credentials provider asks for, unless the list would grow past
// maxStepUpScopes.
func (m *mcpMode) step(scopes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := union(m.stepped, scopes)
	if err := m.tooManyScopes(want); err != nil {
		return err
	}
	m.stepped = want
	return nil
}

// stepUp gets a token for the sign-in's scopes and needed, under the sign-in's lock: the stored token when
// another process already stepped up, else a refresh asking for the union. Whatever happens, the stored
// sign-in remembers the union, so that the next `tokenhost login` asks for it.
func (g *storedGrant) stepUp(ctx context.Context, c *config, rejected sdk.Token, needed []string) (sdk.Token, error) {
	unlock, err := g.store.lock(ctx, c.timeout)
	if err != nil {
		return sdk.Token{}, err
	}
	defer unlock()
	cur, err := g.store.load(ctx)
	if err != nil {
		return sdk.Token{}, err
	}
	if !cur.ok {
		return sdk.Token{}, sdk.ReauthRequired("no stored sign-in at %s; %s", g.store.where(), loginHint)
	}
	si := cur.si
	want := union(si.Scopes, needed)
	if err := c.mcp.tooManyScopes(want); err != nil {
		return sdk.Token{}, err
	}
	if covers(si.Scopes, needed) && si.AccessToken != rejected.Value && fresh(sdk.Token{Value: si.AccessToken, Expiry: si.Expiry}) {
		return g.token(si), nil // another process stepped up meanwhile
	}
	reauth := sdk.ReauthRequired("MCP server %s needs scopes %q, which this sign-in does not hold; run `tokenhost login <provider>`, which asks for %q", tokenkit.Display(c.mcp.server), strings.Join(needed, " "), strings.Join(want, " "))
	si.Scopes = want
	if cur.offline != nil || si.RefreshToken == "" {
		g.store.save(ctx, cur, si)
		return sdk.Token{}, reauth
	}
	cc, err := c.mcpSignedIn(si, g.store.where())
	if err != nil {
		return sdk.Token{}, err
	}
	f := cc.form("refresh_token")
	f.Set("refresh_token", si.RefreshToken)
	f.Set("scope", strings.Join(want, " "))
	tr, err := cc.hiding(si.RefreshToken).request(ctx, f)
	if err != nil {
		if sdk.IsKind(err, sdk.KindUnavailable) || sdk.IsKind(err, sdk.KindReauthRequired) {
			return sdk.Token{}, err
		}
		g.store.save(ctx, cur, si) // the authorization server would not widen the grant: a sign-in will
		return sdk.Token{}, reauth
	}
	g.update(&si, tr)
	si = g.store.save(ctx, cur, si)
	if tr.scope != "" && !covers(strings.Fields(tr.scope), needed) {
		return sdk.Token{}, reauth
	}
	return g.token(si), nil
}

// mcpClientCredentials is the client credentials grant for an MCP server: discovery first, then a token
// request for the configured scopes (or those discovery suggests) and any a step-up added.
type mcpClientCredentials struct{}

func (*mcpClientCredentials) name() string { return grantClientCredentials }

func (*mcpClientCredentials) fetch(ctx context.Context, c *config, _ string) (sdk.Token, error) {
	m, err := c.endpoints.discover(ctx, c)
	if err != nil {
		return sdk.Token{}, err
	}
	scopes := c.scopes
	if len(scopes) == 0 {
		scopes = m.mcp.scopes
	}
	c.mcp.mu.Lock()
	scopes = union(scopes, c.mcp.stepped)
	c.mcp.mu.Unlock()
	cc := *c
	cc.scopes = slices.Clone(scopes)
	t, err := cc.fetchToken(ctx, cc.form("client_credentials"))
	if err != nil && !sdk.IsKind(err, sdk.KindReauthRequired) {
		c.endpoints.forget()
	}
	return t, err
}

func (*mcpClientCredentials) refused(ep, detail string) error {
	return clientCredentials{}.refused(ep, detail)
}
