package codex

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
)

// Name is the plugin's name as the host config refers to it.
const Name = "codex"

// Version is the plugin's version.
var Version = "0.1.0"

// Environment lists the environment variables the plugin reads; the host passes these to its process
// beside the minimal environment.
var Environment = []string{EnvCodexHome, EnvTokenURLOverride}

// DefaultUpstream is the ChatGPT Codex backend the Codex CLI talks to when signed in with ChatGPT.
const DefaultUpstream = "https://chatgpt.com/backend-api/codex"

// APIKeyUpstream is the default upstream when auth.json holds an API key: the OpenAI API, where such a key
// is valid (the ChatGPT backend accepts only ChatGPT sign-in tokens).
const APIKeyUpstream = "https://api.openai.com/v1"

// HeaderAccountID is the header that carries the ChatGPT account id with every upstream request.
const HeaderAccountID = "ChatGPT-Account-ID"

// Mode strings shown by `tokenhost check`.
const (
	// ModeChatGPT describes a ChatGPT sign-in whose tokens the plugin refreshes.
	ModeChatGPT = "chatgpt sign-in (auth.json)"
	// ModeAPIKey describes an auth.json that holds an OpenAI API key, which is served as it is.
	ModeAPIKey = "api key from auth.json (no refresh)"
	// ModeFleet describes a ChatGPT sign-in kept in the fleet's host storage (seeded from an auth.json).
	ModeFleet = "chatgpt sign-in (the fleet's host storage)"
)

// minUsable is how much life a token another process stored needs left to be returned instead of
// refreshing.
const minUsable = time.Second

// unsaved are refreshed tokens that could not be written to auth.json (see credfile.Pending).
type unsaved struct {
	u    tokenUpdate // what the endpoint returned
	at   time.Time   // when, for last_refresh
	auth *authFile   // auth.json as it should be now
}

// source is the codex plugin's sdk.Source.
type source struct {
	sf      *flight.Group
	pending credfile.Pending[unsaved] // refreshed tokens auth.json does not hold yet

	mu  sync.Mutex
	cfg *config // nil until Configure succeeds

	fleet *fleet // set by UseStorage when the host offers storage: the sign-in is the fleet's (fleet.go)

	probe probes // zero outside tests
}

// probes let a test observe and steer a refresh; every field is nil outside tests, which set them with
// newSource's options.
type probes struct {
	at           func(point string)     // runs at the named points of a refresh (see share.go); a test that sets it also observes sf with flight.Observed
	beforeRename func(tmp string) error // runs between writing auth.json's temporary file and renaming it
}

// New returns an unconfigured codex Source.
func New() sdk.Source { return newSource() }

// newSource returns an unconfigured source with the given options applied.
func newSource(opts ...func(*source)) *source {
	s := &source{sf: new(flight.Group)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// reach calls the probe at point, if a test set one.
func (s *source) reach(point string) {
	if s.probe.at != nil {
		s.probe.at(point)
	}
}

// Configure validates the options block. The auth file need not exist yet (the user may run `codex login`
// later); when it exists, its kind decides the Mode shown by `tokenhost check`.
func (s *source) Configure(_ context.Context, options map[string]any) (sdk.Info, error) {
	cfg, err := parseConfig(options)
	if err != nil {
		return sdk.Info{}, err
	}
	mode, upstream, host := ModeChatGPT, DefaultUpstream, "chatgpt.com"
	if data, err := credfile.ReadLimited(cfg.authFile); err == nil {
		if a, err := parseAuth(data); err == nil && a.apiKeyMode {
			mode, upstream, host = ModeAPIKey, APIKeyUpstream, "api.openai.com"
		}
	}
	if mode == ModeChatGPT && s.fleetMode() != nil {
		mode = ModeFleet
	}
	s.mu.Lock()
	old := s.cfg
	s.cfg = cfg
	s.mu.Unlock()
	if old != nil {
		old.client.CloseIdleConnections()
	}
	return sdk.Info{
		Name:         Name,
		Version:      Version,
		Upstream:     upstream,
		AllowedHosts: []string{host},
		Mode:         mode,
		// A Refresh may wait for the cross-process lock, then make its request, then re-read auth.json
		// while the Codex CLI writes a token it redeemed first.
		MaxFetch: cfg.lockTimeout + cfg.timeout + cfg.reuseWait,
		// auth.json is the sign-in's one home; a second copy of its tokens would only go stale.
		NoTokenCache: true,
		UsesStorage:  s.fleetMode() != nil,
	}, nil
}

// Token reads auth.json and returns its access token, refreshing it first when it expires within
// refresh_window (or, when its expiry cannot be read, when last_refresh is more than StaleAfter ago).
func (s *source) Token(ctx context.Context) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	cfg, err := s.config()
	if err != nil {
		return sdk.Token{}, err
	}
	a, err := s.current(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	if a.apiKeyMode {
		return apiKeyToken(a), nil
	}
	if !cfg.due(a, time.Now()) {
		return tokenOf(a), nil
	}
	t, err := s.refresh(ctx, cfg, a.accessToken)
	if err != nil && sdk.IsKind(err, sdk.KindUnavailable) && a.accessToken != "" && (a.exp.IsZero() || time.Now().Before(a.exp)) {
		// The token endpoint is out of reach but the current token still works: serve it, and try again
		// on the next call.
		slog.Debug("codex: refresh failed; serving the current token until it expires", "file", cfg.authFile, "token", sdk.Fingerprint(a.accessToken), "expiry", a.exp)
		return tokenOf(a), nil
	}
	return t, err
}

// Refresh returns a token other than stale. When auth.json already holds another usable token (another
// process refreshed), that is returned without a network call; otherwise the refresh token is redeemed
// (see share.go for how the file is shared with the Codex CLI).
func (s *source) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	cfg, err := s.config()
	if err != nil {
		return sdk.Token{}, err
	}
	a, err := s.currentForRefresh(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	if a.apiKeyMode {
		return apiKeyRefresh(cfg, a, stale.Value)
	}
	if cfg.replaces(a, stale.Value, time.Now()) {
		return tokenOf(a), nil
	}
	return s.refresh(ctx, cfg, stale.Value)
}

// currentForRefresh is current without fleet mode's fallback to a remembered token (see fleet.current).
func (s *source) currentForRefresh(ctx context.Context, cfg *config) (*authFile, error) {
	if fl := s.fleetMode(); fl != nil {
		return fl.current(ctx, s, cfg, false)
	}
	return s.current(ctx, cfg)
}

// config returns the configuration.
func (s *source) config() (*config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil, sdk.Internal("codex: a token was requested before Configure")
	}
	return s.cfg, nil
}

// due reports whether the access token in a needs refreshing at now.
func (c *config) due(a *authFile, now time.Time) bool {
	switch {
	case a.accessToken == "":
		return true
	case !a.exp.IsZero():
		return a.exp.Sub(now) <= c.refreshWindow
	}
	return a.lastRefresh.IsZero() || now.Sub(a.lastRefresh) > StaleAfter
}

// replaces reports whether a holds a usable access token other than stale: proof that someone else
// refreshed already. A known expiry needs only minUsable left (a token just refreshed elsewhere is taken
// even when its whole life is shorter than refresh_window, so two processes never refresh twice); an
// unknown one falls back on last_refresh.
func (c *config) replaces(a *authFile, stale string, now time.Time) bool {
	if a.accessToken == "" || a.accessToken == stale {
		return false
	}
	if !a.exp.IsZero() {
		return a.exp.Sub(now) > minUsable
	}
	return !c.due(a, now)
}

// tokenOf returns the access token of a ChatGPT sign-in with its account header.
func tokenOf(a *authFile) sdk.Token {
	t := sdk.Token{Value: a.accessToken, Type: "Bearer", Expiry: a.exp}
	if a.accountID != "" {
		t.Headers = map[string]string{HeaderAccountID: a.accountID}
	}
	return t
}

// apiKeyToken returns the API key of an api-key auth file; it does not expire.
func apiKeyToken(a *authFile) sdk.Token {
	return sdk.Token{Value: a.apiKey, Type: "Bearer"}
}

// apiKeyRefresh is Refresh for an API key: there is nothing to refresh, so a rejected key needs the user.
func apiKeyRefresh(cfg *config, a *authFile, stale string) (sdk.Token, error) {
	if a.apiKey == stale {
		return sdk.Token{}, sdk.ReauthRequired("the API key in %s was rejected; replace it or run `codex login`", cfg.authFile)
	}
	return apiKeyToken(a), nil
}
