// Package azure is the built-in tokenhost plugin for Azure OpenAI with Microsoft Entra ID. It gets tokens
// through the Azure SDK's azidentity (client secret, client certificate, workload identity, managed
// identity, the Azure CLI, or Azure's default chain over these), or serves a resource key for the api-key
// header.
//
// Its options are documented in docs/providers/azure.md, the one reference for them; a test keeps that page
// and the options the plugin accepts in step.
package azure

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// Name is the plugin's name as the host config refers to it.
const Name = "azure"

// Version is the plugin's version.
var Version = "0.1.0"

// Environment lists the environment variables the plugin reads (a trailing * is a prefix): azidentity's
// AZURE_* settings and the managed identity endpoints of App Service, Arc and Cloud Shell. The host passes
// these to its process beside the minimal environment.
var Environment = []string{"AZURE_*", "IDENTITY_*", "MSI_*", "IMDS_ENDPOINT"}

// MinRemaining is how much lifetime a token needs left to be served from the plugin's cache.
const MinRemaining = 10 * time.Second

// source is the azure plugin's sdk.Source.
type source struct {
	sf flight.Group

	mu   sync.Mutex
	cfg  *config                // nil until Configure succeeds
	cred azcore.TokenCredential // the credential Token asks; replaced by each successful Refresh
	tok  sdk.Token              // last token obtained under cfg

	wrap func(http.RoundTripper) http.RoundTripper // see newSource
}

// New returns an unconfigured azure Source.
func New() sdk.Source { return newSource(nil) }

// newSource returns an unconfigured source whose azidentity requests go through wrap(the plugin's own
// transport) when wrap is not nil, so a test can watch or confine them.
func newSource(wrap func(http.RoundTripper) http.RoundTripper) *source { return &source{wrap: wrap} }

// Configure validates the options block and sets up the credential; it contacts no server.
func (s *source) Configure(_ context.Context, options map[string]any) (sdk.Info, error) {
	cfg, err := parseConfig(options, s.wrap)
	if err != nil {
		return sdk.Info{}, err
	}
	var cred azcore.TokenCredential
	if cfg.kind != CredentialAPIKey {
		if cred, err = cfg.newCredential(); err != nil {
			return sdk.Info{}, err
		}
	}
	s.mu.Lock()
	old := s.cfg
	s.cfg, s.cred, s.tok = cfg, cred, sdk.Token{}
	s.mu.Unlock()
	if old != nil && old.client != nil {
		old.client.CloseIdleConnections()
	}
	return cfg.info(), nil
}

// Token returns the cached token while it is fresh, else asks the current credential (which serves its own
// cache); concurrent callers share one request.
func (s *source) Token(ctx context.Context) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	cfg, cred, cur, err := s.state()
	if err != nil {
		return sdk.Token{}, err
	}
	if cfg.kind == CredentialAPIKey {
		return sdk.Token{Value: cfg.apiKey}, nil
	}
	if fresh(cur) {
		return cur, nil
	}
	return s.sf.Do(ctx, "token", func() (sdk.Token, error) {
		if _, _, cur, _ := s.state(); fresh(cur) {
			return cur, nil
		}
		tok, err := s.fetch(ctx, cfg, cred, cfg.request(false))
		if err != nil {
			return sdk.Token{}, err
		}
		s.store(cfg, cred, tok, false)
		return tok, nil
	})
}

// Refresh returns a token other than stale. azidentity caches tokens inside each credential, so it builds a
// new credential (a fresh cache; a re-read certificate or federated token file) and makes it the current one.
// Managed identity tokens are also cached process-wide by MSAL, so that request carries a claims challenge,
// which bypasses that cache. A token equal to stale is never returned.
func (s *source) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	return s.refresh(ctx, stale, "")
}

// RefreshRejected is Refresh for a token the upstream refused. A Continuous Access Evaluation challenge (a
// Bearer challenge whose claims parameter is base64-encoded JSON) goes to Entra ID as the token request's
// claims, so that the new token satisfies it; any other reason refreshes as Refresh does.
func (s *source) RefreshRejected(ctx context.Context, stale sdk.Token, why sdk.Rejection) (sdk.Token, error) {
	return s.refresh(ctx, stale, caeClaims(why.Challenge))
}

// refresh is Refresh; claims, when set, is a claims challenge the new token must satisfy.
func (s *source) refresh(ctx context.Context, stale sdk.Token, claims string) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	cfg, _, cur, err := s.state()
	if err != nil {
		return sdk.Token{}, err
	}
	if cfg.kind == CredentialAPIKey {
		if stale.Value == cfg.apiKey {
			return sdk.Token{}, sdk.ReauthRequired("Azure OpenAI rejected the API key (%s); rotate it: copy a current key from the resource's Keys and Endpoint page in the Azure portal (or `az cognitiveservices account keys list`), update api_key (api_key_env / api_key_file) and restart tokenhost", sdk.Fingerprint(cfg.apiKey))
		}
		return sdk.Token{Value: cfg.apiKey}, nil
	}
	newer := func(t sdk.Token) bool { return t.Value != stale.Value && fresh(t) }
	if newer(cur) {
		return cur, nil
	}
	return s.sf.Do(ctx, flight.RefreshKey(stale.Value), func() (sdk.Token, error) {
		if _, _, cur, _ := s.state(); newer(cur) {
			return cur, nil
		}
		cred, err := cfg.newCredential()
		if err != nil {
			return sdk.Token{}, err
		}
		tro := cfg.request(cfg.kind == CredentialManagedIdentity)
		if claims != "" {
			tro.Claims, tro.EnableCAE = claims, true
		}
		tok, err := s.fetch(ctx, cfg, cred, tro)
		if err != nil {
			return sdk.Token{}, err
		}
		if tok.Value == stale.Value && cfg.kind == CredentialDefault {
			// The chain may have landed on a managed identity, whose tokens MSAL caches process-wide.
			if again, err := s.fetch(ctx, cfg, cred, cfg.request(true)); err == nil {
				tok = again
			}
		}
		if tok.Value == stale.Value {
			return sdk.Token{}, sameTokenError(cfg)
		}
		s.store(cfg, cred, tok, true)
		slog.Debug("azure: token refreshed", "credential", cfg.kind, "token", sdk.Fingerprint(tok.Value), "expiry", tok.Expiry)
		return tok, nil
	})
}

// state returns the configuration, the current credential and the cached token.
func (s *source) state() (*config, azcore.TokenCredential, sdk.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil, nil, sdk.Token{}, sdk.Internal("azure: a token was requested before Configure")
	}
	return s.cfg, s.cred, s.tok, nil
}

// store caches tok if cfg is still the configuration; with replace, cred becomes the current credential.
func (s *source) store(cfg *config, cred azcore.TokenCredential, tok sdk.Token, replace bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != cfg {
		return
	}
	if replace {
		s.cred = cred
	} else if s.cred != cred {
		return // a refresh replaced the credential meanwhile; its token is newer
	}
	s.tok = tok
}

// fresh reports whether t can be served from the cache: it has more than MinRemaining left and Entra ID's
// suggested refresh time (refresh_in) has not come.
func fresh(t sdk.Token) bool {
	now := time.Now()
	return t.Value != "" && (t.Expiry.IsZero() || t.Expiry.Sub(now) > MinRemaining) && (t.RefreshAt.IsZero() || now.Before(t.RefreshAt))
}

// request returns the token request for the configured scope; bypass adds a claims challenge, which makes
// MSAL skip its caches (an nbf claim of now, the shape of a Continuous Access Evaluation challenge).
func (c *config) request(bypass bool) policy.TokenRequestOptions {
	tro := policy.TokenRequestOptions{Scopes: []string{c.scope}}
	if bypass {
		tro.Claims = fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())
	}
	return tro
}

// fetch asks cred for a token, detached from the caller's cancellation and bounded by the timeout option.
func (s *source) fetch(ctx context.Context, cfg *config, cred azcore.TokenCredential, tro policy.TokenRequestOptions) (sdk.Token, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
	defer cancel()
	at, err := cred.GetToken(fctx, tro)
	if err != nil {
		err = classify(err, cfg, fctx.Err() != nil)
		slog.Debug("azure: token request failed", "credential", cfg.kind, "kind", sdk.KindOf(err))
		return sdk.Token{}, err
	}
	if at.Token == "" {
		return sdk.Token{}, sdk.Unavailable("%s returned an empty access token", cfg.issuer())
	}
	if tokenhttp.HasControl(at.Token) {
		return sdk.Token{}, sdk.Unavailable("%s returned an access token with control characters, which cannot be sent in a header", cfg.issuer())
	}
	tok := sdk.Token{Value: at.Token, Type: "Bearer", Expiry: at.ExpiresOn}
	if !at.RefreshOn.IsZero() && (at.ExpiresOn.IsZero() || at.RefreshOn.Before(at.ExpiresOn)) {
		tok.RefreshAt = at.RefreshOn
	}
	return tok, nil
}

// sameTokenError explains why Refresh could not get a token other than the rejected one.
func sameTokenError(cfg *config) error {
	role := "If fresh tokens are rejected too, the identity most likely lacks the Cognitive Services OpenAI User role on the Azure OpenAI resource (Access control (IAM) → Add role assignment), or scope names the wrong audience."
	switch cfg.kind {
	case CredentialAzureCLI:
		return sdk.ReauthRequired("the Azure CLI returned the very token Azure OpenAI just rejected (az caches tokens until they near expiry); run `az login` to get a new one. %s", role)
	case CredentialManagedIdentity, CredentialDefault:
		return sdk.Unavailable("%s returned the very token Azure OpenAI just rejected (the managed identity endpoint caches tokens until they near expiry), so no different token is available yet. %s", cfg.issuer(), role)
	}
	return sdk.Unavailable("%s returned the very token Azure OpenAI just rejected; no different token is available. %s", cfg.issuer(), role)
}

// issuer names where tokens come from, for messages.
func (c *config) issuer() string {
	switch c.kind {
	case CredentialManagedIdentity:
		return "the managed identity endpoint"
	case CredentialAzureCLI:
		return "the Azure CLI"
	case CredentialDefault:
		return "Azure's default credential chain"
	}
	return "Entra ID at " + strings.TrimSuffix(c.authority, "/")
}
