// Package gateway is the built-in tokenhost plugin for corporate gateways in front of an OpenAI-compatible
// API. Its first mode is the OAuth 2.0 client credentials grant (RFC 6749 §4.4), with client_secret_basic
// or client_secret_post client authentication, scopes, an audience and extra form parameters.
//
// Its options are documented in docs/providers/gateway.md, the one reference for them; a test keeps that
// page and the options the plugin accepts in step.
//
// The upstream is not an option: the host config names it.
package gateway

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/oauth2"

	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/plugins/internal/state"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// Name is the plugin's name as the host config refers to it.
const Name = "gateway"

// Version is the plugin's version.
var Version = "0.1.0"

// MinRemaining is how much lifetime a cached token needs left to be served from the cache.
const MinRemaining = 10 * time.Second

// source is the gateway plugin's sdk.Source.
type source struct {
	sf *flight.Group
	st state.Slot[config] // the configuration and the last token fetched under it
}

// New returns an unconfigured gateway Source.
func New() sdk.Source { return &source{sf: new(flight.Group)} }

// Configure validates the options block; it does not contact the token endpoint.
func (s *source) Configure(_ context.Context, options map[string]any) (sdk.Info, error) {
	cfg, err := parseConfig(options)
	if err != nil {
		return sdk.Info{}, err
	}
	if old := s.st.Set(cfg); old != nil {
		old.client.CloseIdleConnections()
	}
	return sdk.Info{Name: Name, Version: Version, Mode: cfg.mode()}, nil
}

// Token returns the cached token while it has more than MinRemaining left, else fetches one; concurrent
// callers share one fetch.
func (s *source) Token(ctx context.Context) (sdk.Token, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	return s.st.Reuse(ctx, s.sf, "token", fresh, func() (sdk.Token, error) { return s.fetch(ctx, cfg) })
}

// Refresh fetches a new token from the endpoint, bypassing the cache, unless the cache already holds a
// usable token other than stale; concurrent refreshes of one stale token share one fetch.
func (s *source) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	newer := func(t sdk.Token) bool { return t.Value != stale.Value && fresh(t) }
	return s.st.Reuse(ctx, s.sf, flight.RefreshKey(stale.Value), newer, func() (sdk.Token, error) { return s.fetch(ctx, cfg) })
}

// fresh reports whether t can be served from the cache.
func fresh(t sdk.Token) bool {
	return t.Value != "" && (t.Expiry.IsZero() || time.Until(t.Expiry) > MinRemaining)
}

// fetch asks the token endpoint for a new token and caches it. It runs detached from the caller's
// cancellation, bounded by the configured timeout.
func (s *source) fetch(ctx context.Context, cfg *config) (sdk.Token, error) {
	x := &exchange{}
	fctx := context.WithoutCancel(ctx)
	fctx = context.WithValue(fctx, oauth2.HTTPClient, cfg.client)
	fctx = context.WithValue(fctx, exchangeKey{}, x)
	ot, err := cfg.cc.Token(fctx)
	if err != nil {
		err = classify(err, x, cfg, s.st.Cached().Value)
		slog.Debug("gateway: token request failed", "endpoint", cfg.endpoint, "kind", sdk.KindOf(err))
		return sdk.Token{}, err
	}
	if tokenhttp.HasControl(ot.AccessToken) {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s returned an access_token with control characters, which cannot be sent in a header", cfg.endpoint)
	}
	t := sdk.Token{Value: ot.AccessToken, Type: ot.Type(), Expiry: ot.Expiry}
	s.st.Store(cfg, t)
	slog.Debug("gateway: token fetched", "endpoint", cfg.endpoint, "token", sdk.Fingerprint(t.Value), "expiry", t.Expiry)
	return t, nil
}
