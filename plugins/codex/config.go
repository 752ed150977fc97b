package codex

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/homedir"
	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// DefaultTokenURL is the Codex CLI's OAuth token endpoint.
const DefaultTokenURL = "https://auth.openai.com/oauth/token"

// DefaultClientID is the Codex CLI's public OAuth client identifier.
const DefaultClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// DefaultRefreshWindow is how close to its expiry an access token is refreshed when refresh_window is not set.
const DefaultRefreshWindow = 5 * time.Minute

// DefaultLockTimeout bounds the wait for the cross-process lock when lock_timeout is not set.
const DefaultLockTimeout = 30 * time.Second

// DefaultTimeout bounds one token request when timeout is not set.
const DefaultTimeout = 30 * time.Second

// DefaultReuseWait bounds, when reuse_wait is not set, how long auth.json is re-read after the endpoint
// answered refresh_token_reused or invalid_grant: the Codex CLI may have redeemed the token and not yet
// written its answer, which takes as long as its token request.
const DefaultReuseWait = 15 * time.Second

// StaleAfter is how old last_refresh may grow before a token whose expiry cannot be read is refreshed.
const StaleAfter = 8 * 24 * time.Hour

// EnvCodexHome names the directory the Codex CLI keeps auth.json in (default ~/.codex).
const EnvCodexHome = "CODEX_HOME"

// EnvTokenURLOverride is the Codex CLI's own override of the token endpoint; it applies when token_url is
// not set.
const EnvTokenURLOverride = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"

// knownOptions lists every option the plugin reads.
var knownOptions = []string{"auth_file", "token_url", "client_id", "refresh_window", "lock_timeout", "timeout", "reuse_wait"}

// config is a validated options block.
type config struct {
	authFile      string // absolute path of auth.json
	tokenURL      string // as configured
	endpoint      string // scheme://host/path of tokenURL, safe to show in messages
	clientID      string
	refreshWindow time.Duration
	lockTimeout   time.Duration
	timeout       time.Duration
	reuseWait     time.Duration
	client        *http.Client
}

// parseConfig validates the options block. It does not look at the auth file.
func parseConfig(raw map[string]any) (*config, error) {
	o := sdk.Options(raw)
	if err := o.Unknown(knownOptions...); err != nil {
		return nil, err
	}

	path, err := o.String("auth_file", "")
	if err != nil {
		return nil, err
	}
	path, err = authFilePath(path)
	if err != nil {
		return nil, err
	}

	tokenURL, err := o.String("token_url", "")
	if err != nil {
		return nil, err
	}
	from := "token_url"
	if _, set := raw["token_url"]; !set || tokenURL == "" {
		if env := strings.TrimSpace(os.Getenv(EnvTokenURLOverride)); env != "" {
			tokenURL, from = env, "the environment variable "+EnvTokenURLOverride
		} else {
			tokenURL = DefaultTokenURL
		}
	}
	endpoint, err := checkTokenURL(tokenURL, from)
	if err != nil {
		return nil, err
	}

	clientID, err := o.String("client_id", DefaultClientID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(clientID) == "" {
		return nil, sdk.BadConfig("client_id", "must not be empty; leave it out to use the Codex CLI's client %s", DefaultClientID)
	}

	window, err := o.Duration("refresh_window", DefaultRefreshWindow)
	if err != nil {
		return nil, err
	}
	lockTimeout, err := optcheck.PositiveDuration(o, "lock_timeout", DefaultLockTimeout)
	if err != nil {
		return nil, err
	}
	timeout, err := optcheck.PositiveDuration(o, "timeout", DefaultTimeout)
	if err != nil {
		return nil, err
	}

	reuseWait, err := o.Duration("reuse_wait", DefaultReuseWait)
	if err != nil {
		return nil, err
	}
	if reuseWait < 0 {
		return nil, sdk.BadConfig("reuse_wait", "must not be negative, e.g. 15s")
	}

	return &config{
		authFile:      path,
		tokenURL:      tokenURL,
		endpoint:      endpoint,
		clientID:      clientID,
		refreshWindow: window,
		lockTimeout:   lockTimeout,
		timeout:       timeout,
		reuseWait:     reuseWait,
		client:        tokenhttp.NewClient(tokenhttp.NewTransport(), timeout),
	}, nil
}

// authFilePath returns the absolute path of the auth file: the option (with ~ expanded), else
// $CODEX_HOME/auth.json, else ~/.codex/auth.json.
func authFilePath(opt string) (string, error) {
	p := strings.TrimSpace(opt)
	if p == "" {
		if home := os.Getenv(EnvCodexHome); home != "" {
			p = filepath.Join(home, "auth.json")
		} else {
			p = "~/.codex/auth.json"
		}
	}
	p, err := homedir.Expand(p, os.UserHomeDir)
	if err != nil {
		return "", sdk.BadConfig("auth_file", "%v; give an absolute path or set %s", err, EnvCodexHome)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", sdk.BadConfig("auth_file", "cannot make %q absolute: %v", p, err)
	}
	return abs, nil
}

// checkTokenURL validates the token endpoint URL and returns the form of it that is safe to show; from says
// where it came from when that is not the token_url option.
func checkTokenURL(raw, from string) (string, error) {
	endpoint, err := tokenhttp.CheckURL(raw, DefaultTokenURL)
	if err != nil {
		e := sdk.BadConfig("token_url", "%s", err).(*sdk.Error)
		if from != "token_url" {
			e.Message += " (set by " + from + ")"
		}
		return "", e
	}
	return endpoint, nil
}
