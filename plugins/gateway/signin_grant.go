package gateway

import (
	"context"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// storedGrant serves the tokens a person's sign-in (device code, authorization code, or a refresh token
// given in the config) leaves behind: the stored access token while it lasts, else a refresh with the
// stored refresh token, whose rotated successor is persisted before the new access token is returned.
type storedGrant struct {
	kind  string      // device_code | authorization_code | refresh_token
	store signInStore // the file, or the fleet store the host offers (useFleet)
	file  *fileStore
	seed  string // the refresh_token option: used when nothing is stored yet
	c     *config
	// defaulted: the store option was not set, so the file's place follows XDG_STATE_HOME or the home
	// directory.
	defaulted bool
}

func parseStored(kind string) func(o sdk.Options, c *config) (grant, error) {
	return func(o sdk.Options, c *config) (grant, error) {
		g := &storedGrant{kind: kind, file: &fileStore{}, c: c}
		g.store = g.file
		path, err := o.String("store", "")
		if err != nil {
			return nil, err
		}
		if path == "" {
			if path, err = defaultStorePath(c.server(), c.auth.id); err != nil {
				return nil, err
			}
			g.defaulted = true
		}
		g.file.path = path
		if g.seed, err = o.String("refresh_token", ""); err != nil {
			return nil, err
		}
		if g.seed != "" {
			c.secrets = append(c.secrets, g.seed)
		}
		return g, nil
	}
}

func (g *storedGrant) name() string { return g.kind }

// useFleet keeps the sign-in in st, the storage the host serves for a provider shared through a fleet
// store, instead of the file, which then only seeds an empty store.
func (g *storedGrant) useFleet(st sdk.Storage) {
	seed := signIn{}
	if g.seed != "" {
		seed = signIn{RefreshToken: g.seed, ClientID: g.c.auth.id}
	}
	g.store = newFleetStore(st, fleetKey(g.c.server(), g.c.auth.id), g.file, seed)
}

// fetch runs under the stored sign-in's lock, held across the refresh: two processes sharing the sign-in
// refresh once, the second finding the first's token when it gets the lock.
func (g *storedGrant) fetch(ctx context.Context, c *config, stale string) (sdk.Token, error) {
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
		if g.seed == "" {
			return sdk.Token{}, sdk.ReauthRequired("no stored sign-in at %s; %s", g.store.where(), loginHint)
		}
		cur.si = signIn{RefreshToken: g.seed, ClientID: c.auth.id}
	}
	si := cur.si
	if si.AccessToken != "" && si.AccessToken != stale && fresh(sdk.Token{Value: si.AccessToken, Expiry: si.Expiry}) {
		return g.token(si), nil
	}
	if cur.offline != nil {
		return sdk.Token{}, cur.offline
	}
	if si.RefreshToken == "" {
		return sdk.Token{}, sdk.ReauthRequired("the stored sign-in at %s has no refresh token and its access token is spent; %s", g.store.where(), loginHint)
	}
	if c.mcp != nil {
		if c, err = c.mcpSignedIn(si, g.store.where()); err != nil {
			return sdk.Token{}, err
		}
	}
	f := c.form("refresh_token")
	f.Set("refresh_token", si.RefreshToken)
	f.Del("audience")
	tr, err := c.hiding(si.RefreshToken).request(ctx, f)
	if err != nil {
		if c.mcp != nil {
			return sdk.Token{}, g.mcpRefreshFailed(ctx, c, si, err)
		}
		return sdk.Token{}, err
	}
	g.update(&si, tr)
	return g.token(g.store.save(ctx, cur, si)), nil
}

// update puts a token response into si; a rotated refresh token replaces the old one.
func (g *storedGrant) update(si *signIn, tr tokenResponse) {
	si.AccessToken, si.TokenType, si.Expiry = tr.access, tr.tokenType, tr.expiry
	if tr.refresh != "" {
		si.RefreshToken = tr.refresh
	}
	if g.c.auth.id != "" {
		si.ClientID = g.c.auth.id
	}
	si.Endpoint = g.c.endpoints.tokenURL
	if g.c.mcp != nil {
		si.Endpoint, si.Issuer, si.Revocation = g.c.endpoints.found()
	}
	si.Updated = time.Now().UTC()
}

func (g *storedGrant) token(si signIn) sdk.Token {
	typ := si.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return sdk.Token{Value: si.AccessToken, Type: typ, Expiry: si.Expiry, Headers: g.c.headers}
}

// refused: the refresh token is dead (expired, revoked, or reused after rotation).
func (g *storedGrant) refused(ep, detail string) error {
	hint := ""
	if g.c.auth.method == authJWT {
		// Some servers answer a client assertion they cannot verify with invalid_grant too.
		hint = "; if signing in again does not help, check private_key_file and kid"
	}
	return sdk.ReauthRequired("token endpoint %s refused the stored sign-in (%s); %s%s", ep, detail, loginHint, hint)
}
