package gemini

import (
	"context"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/plugins/internal/state"
	"github.com/tokenhost/tokenhost/sdk"
)

// Name is the plugin's name as the host config refers to it.
const Name = "gemini"

// Version is the plugin's version.
var Version = "0.1.0"

// Environment lists the environment variables the plugin reads (a trailing * is a prefix): the Gemini CLI
// home, Google's ADC and static-token variables, the gcloud config directory and the metadata server
// overrides Google's metadata client reads. The host passes these to its process beside the minimal
// environment.
var Environment = []string{envGeminiHome, "GOOGLE_*", "CLOUDSDK_CONFIG", "GCE_METADATA_*"}

// source is the gemini plugin's sdk.Source.
type source struct {
	sf flight.Group

	st state.Slot[config] // the configuration and the last token fetched under it (adc, service_account, metadata)

	mu      sync.Mutex
	pending credfile.Pending[unsavedCreds] // a refreshed sign-in oauth_creds.json does not hold yet

	probe probes // zero outside tests
}

// probes let a test observe and steer the plugin; every field is nil outside tests.
type probes struct {
	beforeRename func(tmp string) error // between writing oauth_creds.json's temporary file and renaming it
	locking      func()                 // just before the plugin waits for the lock on oauth_creds.json
}

// New returns an unconfigured gemini Source.
func New() sdk.Source { return &source{} }

// Configure validates the options block; it reads no credential and contacts no endpoint.
func (s *source) Configure(_ context.Context, options map[string]any) (sdk.Info, error) {
	cfg, err := parseConfig(options)
	if err != nil {
		return sdk.Info{}, err
	}
	if old := s.st.Set(cfg); old != nil {
		old.client.CloseIdleConnections()
	}
	return sdk.Info{
		Name:         Name,
		Version:      Version,
		Upstream:     DefaultUpstream,
		AllowedHosts: allowedHosts(cfg.extraHosts),
		Mode:         cfg.mode(),
		MaxFetch:     cfg.lockTimeout + cfg.timeout, // the cross-process lock (gemini_cli), then the request
		NoTokenCache: cfg.source == SourceGeminiCLI, // oauth_creds.json is that sign-in's one home
		IdentityFrom: cfg.identity(),
	}, nil
}

// Token returns a usable token: for gemini_cli the one in oauth_creds.json unless it expires within
// refresh_window (then it is refreshed), for the Google library sources the cached one while it has more
// than refresh_window left, for static the configured one.
func (s *source) Token(ctx context.Context) (sdk.Token, error) {
	cfg, cur, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	switch cfg.source {
	case SourceStatic:
		return sdk.Token{Value: cfg.static, Type: "Bearer", Headers: quotaHeaders(cfg.quotaProject)}, nil
	case SourceGeminiCLI:
		return s.cliToken(ctx, cfg)
	}
	usable := func(t sdk.Token) bool { return fresh(t, cfg.refreshWindow) }
	t, err := s.st.Reuse(ctx, &s.sf, "token", usable, func() (sdk.Token, error) { return s.fetch(ctx, cfg) })
	if err != nil && sdk.IsKind(err, sdk.KindUnavailable) && cur.Value != "" && time.Now().Before(cur.Expiry) {
		return cur, nil // the endpoint is failing, but the cached token has not expired yet
	}
	return t, err
}

// Refresh returns a token other than stale. gemini_cli re-reads oauth_creds.json under its lock and uses a
// token another process stored meanwhile, else redeems the refresh token; the Google library sources build
// fresh credentials (so no library cache can hand stale back) unless the cache already holds a newer token;
// static cannot refresh.
func (s *source) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	cfg, _, err := s.st.Get(ctx, Name)
	if err != nil {
		return sdk.Token{}, err
	}
	switch cfg.source {
	case SourceStatic:
		if stale.Value == cfg.static {
			return sdk.Token{}, sdk.ReauthRequired("the static access token (%s) was rejected and a static token cannot be refreshed; supply a new one (token, token_env, token_file or %s) and restart tokenhost, or use source gemini_cli or adc", sdk.Fingerprint(cfg.static), EnvStaticToken)
		}
		return sdk.Token{Value: cfg.static, Type: "Bearer", Headers: quotaHeaders(cfg.quotaProject)}, nil
	case SourceGeminiCLI:
		return s.sf.Do(ctx, flight.RefreshKey(stale.Value), func() (sdk.Token, error) {
			return s.cliRefresh(ctx, cfg, stale.Value)
		})
	}
	newer := func(t sdk.Token) bool { return t.Value != stale.Value && fresh(t, cfg.refreshWindow) }
	return s.st.Reuse(ctx, &s.sf, flight.RefreshKey(stale.Value), newer, func() (sdk.Token, error) {
		t, err := s.fetch(ctx, cfg)
		if err == nil && t.Value == stale.Value {
			return sdk.Token{}, sdk.Unavailable("%s handed back the token being replaced (%s); Google hands out a new one only shortly before the old one expires, so try again later (a smaller refresh_before avoids this)", cfg.mode(), sdk.Fingerprint(stale.Value))
		}
		return t, err
	})
}

// fresh reports whether t can be served from the cache.
func fresh(t sdk.Token, window time.Duration) bool {
	return t.Value != "" && (t.Expiry.IsZero() || time.Until(t.Expiry) > window)
}

// fetch gets a new token from the Google library source configured and caches it. It runs detached from
// the caller's cancellation, bounded by the timeout option.
func (s *source) fetch(ctx context.Context, cfg *config) (sdk.Token, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
	defer cancel()
	var (
		t   sdk.Token
		err error
	)
	switch cfg.source {
	case SourceMetadata:
		t, err = metadataToken(fctx, cfg)
	default:
		t, err = adcToken(fctx, cfg)
	}
	if err != nil {
		return sdk.Token{}, err
	}
	s.st.Store(cfg, t)
	return t, nil
}
