// Package gateway is the built-in tokenhost plugin for corporate gateways in front of an OpenAI-compatible
// API. It gets tokens every way such gateways hand them out: the OAuth 2.0 client credentials grant
// (client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth), a person's sign-in by device
// code or browser (`tokenhost login`) kept as a stored refresh token, RFC 8693 token exchange, the RFC 7523
// jwt-bearer grant, a helper command, or a static key.
//
// Its options are documented in docs/providers/gateway.md, the one reference for them; a test keeps that
// page and the options the plugin accepts in step.
//
// The upstream is not an option: the host config names it.
//
// The same code serves the built-in plugin mcp (NewMCP): a provider for an MCP server, configured by the
// server's URL alone. It discovers the authorization server (RFC 9728, RFC 8414), registers a client when
// none is configured (a client ID metadata document, else RFC 7591), names the server as the RFC 8707
// resource of every authorization and token request, and steps up to the scopes a server's 403
// insufficient_scope challenge asks for (docs/mcp.md). The Go MCP SDK's oauthex and auth packages fetch
// and check the metadata documents and register the client; the sign-in, its store and the refreshes are
// this package's, shared with the gateway, since the SDK's own sign-in handler keeps its tokens in memory.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/plugins/internal/state"
	"github.com/tokenhost/tokenhost/sdk"
)

// Name is the plugin's name as the host config refers to it.
const Name = "gateway"

// Version is the plugin's version.
var Version = "0.2.0"

// MinRemaining is how much lifetime a cached token needs left to be served from the cache.
const MinRemaining = 10 * time.Second

// source is the gateway plugin's sdk.Source and sdk.Interactive.
type source struct {
	sf      *flight.Group
	st      state.Slot[config]          // the configuration and the last token fetched under it
	clock   clock                       // the device flow's time
	storage atomic.Pointer[sdk.Storage] // what the host offers for a provider shared through a fleet store
	mcp     bool                        // the built-in plugin mcp: options name an MCP server (NewMCP)
}

// option changes how a source is built; tests use it to replace the device flow's clock.
type option func(*source)

// New returns an unconfigured gateway Source.
func New() sdk.Source { return newSource() }

func newSource(opts ...option) *source {
	s := &source{sf: new(flight.Group), clock: wallClock{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Configure validates the options block; it does not contact the token endpoint.
func (s *source) Configure(_ context.Context, options map[string]any) (sdk.Info, error) {
	parse := parseConfig
	if s.mcp {
		parse = parseMCP
	}
	cfg, err := parse(options)
	if err != nil {
		return sdk.Info{}, err
	}
	info := sdk.Info{Name: Name, Version: Version, Mode: cfg.mode()}
	if cfg.mcp != nil {
		info = cfg.mcpInfo(info)
	}
	if st := s.storage.Load(); st != nil {
		if g, ok := cfg.grant.(*storedGrant); ok {
			g.useFleet(*st)
			cfg.fleet, info.UsesStorage = true, true
		}
	}
	info.IdentityFrom, info.NoTokenCache = cfg.identity()
	if old := s.st.Set(cfg); old != nil {
		old.client.CloseIdleConnections()
		if old.mcp != nil {
			old.mcp.disc.origin.CloseIdleConnections()
		}
	}
	return info, nil
}

// UseStorage implements sdk.StorageUser: the host shares this provider through a fleet store, so a
// stored sign-in lives there, the same for every host, instead of in this machine's file.
func (s *source) UseStorage(st sdk.Storage) { s.storage.Store(&st) }

// Token returns the cached token while it has more than MinRemaining left, else fetches one; concurrent
// callers share one fetch.
func (s *source) Token(ctx context.Context) (sdk.Token, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	return s.st.Reuse(ctx, s.sf, "token", fresh, func() (sdk.Token, error) { return s.fetch(ctx, cfg, "") })
}

// Refresh fetches a new token, bypassing the cache, unless the cache already holds a usable token other
// than stale; concurrent refreshes of one stale token share one fetch.
func (s *source) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	newer := func(t sdk.Token) bool { return t.Value != stale.Value && fresh(t) }
	return s.st.Reuse(ctx, s.sf, flight.RefreshKey(stale.Value), newer, func() (sdk.Token, error) { return s.fetch(ctx, cfg, stale.Value) })
}

// fresh reports whether t can be served from the cache.
func fresh(t sdk.Token) bool {
	return t.Value != "" && (t.Expiry.IsZero() || time.Until(t.Expiry) > MinRemaining)
}

// fetch gets a new token by the configured grant and caches it. It runs detached from the caller's
// cancellation (other callers share it), bounded by the configured timeout. A sign-in in a fleet store is
// also bounded by the caller's deadline: the host holds the fleet's refresh lease that long (and a little
// more), and no redeem may outlast it, or another host would redeem the same refresh token.
func (s *source) fetch(ctx context.Context, cfg *config, stale string) (sdk.Token, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout+lockSlack)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok && cfg.fleet {
		var cancelDL context.CancelFunc
		fctx, cancelDL = context.WithDeadline(fctx, dl)
		defer cancelDL()
	}
	t, err := cfg.grant.fetch(fctx, cfg, stale)
	if err != nil {
		slog.Debug("gateway: token request failed", "grant", cfg.grant.name(), "kind", sdk.KindOf(err))
		return sdk.Token{}, err
	}
	s.st.Store(cfg, t)
	slog.Debug("gateway: token fetched", "grant", cfg.grant.name(), "token", sdk.Fingerprint(t.Value), "expiry", t.Expiry)
	return t, nil
}

// Login signs a person in (device code, or the browser with PKCE) and stores the sign-in.
func (s *source) Login(ctx context.Context, ui sdk.UI) (sdk.LoginResult, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	g, ok := cfg.grant.(*storedGrant)
	if !ok {
		return sdk.LoginResult{}, errNoLogin(cfg.grant.name())
	}
	if cfg.mcp != nil {
		return s.mcpLogin(ctx, cfg, g, ui)
	}
	var tr tokenResponse
	switch g.kind {
	case grantDeviceCode:
		tr, err = s.deviceLogin(ctx, cfg, ui)
	case grantAuthCode:
		tr, err = s.browserLogin(ctx, cfg, ui)
	default: // refresh_token: whichever sign-in the server offers
		if _, derr := cfg.endpoints.device(ctx, cfg); derr == nil {
			tr, err = s.deviceLogin(ctx, cfg, ui)
		} else if isNotFound(derr) {
			tr, err = s.browserLogin(ctx, cfg, ui)
		} else {
			err = derr
		}
	}
	if err != nil {
		return sdk.LoginResult{}, err
	}
	unlock, err := g.store.lock(ctx, cfg.timeout)
	if err != nil {
		return sdk.LoginResult{}, err
	}
	defer unlock()
	var si signIn
	g.update(&si, tr)
	if err := g.store.put(ctx, si); err != nil {
		return sdk.LoginResult{}, err
	}
	s.st.Store(cfg, g.token(si))
	msg := fmt.Sprintf("Signed in; the sign-in is stored in %s.", g.store.where())
	if tr.refresh == "" {
		msg += " The server issued no refresh token, so you will need to sign in again when the access token expires (add offline_access to scopes if it supports it)."
	}
	return sdk.LoginResult{Message: msg, Expiry: tr.expiry}, nil
}

// Logout revokes the stored refresh token (RFC 7009) when a revocation endpoint is known, and deletes the
// stored sign-in.
func (s *source) Logout(ctx context.Context) (string, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return "", err
	}
	g, ok := cfg.grant.(*storedGrant)
	if !ok {
		return "", errNoLogin(cfg.grant.name())
	}
	unlock, err := g.store.lock(ctx, cfg.timeout)
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := g.store.load(ctx)
	if sdk.IsKind(err, sdk.KindUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "", err
	}
	if err != nil || !cur.ok {
		if _, rmErr := g.store.remove(ctx); rmErr != nil {
			return "", rmErr
		}
		return fmt.Sprintf("No stored sign-in at %s; nothing to revoke.", g.store.where()), nil
	}
	rc := cfg
	if cfg.mcp != nil { // revoke as the client the sign-in was made with
		if cc, err := cfg.mcpSignedIn(cur.si, g.store.where()); err == nil {
			rc = cc
		}
	}
	revoked := s.revoke(ctx, rc, cur.si)
	s.st.Set(cfg) // forget the cached token
	done, err := g.store.remove(ctx)
	if err != nil {
		return "", err
	}
	return revoked + " " + done, nil
}
