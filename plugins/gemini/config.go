package gemini

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/suggest"
	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// Sources the source option accepts.
const (
	// SourceGeminiCLI serves and refreshes the Gemini CLI's sign-in in oauth_creds.json.
	SourceGeminiCLI = "gemini_cli"
	// SourceADC uses Application Default Credentials: a gcloud user sign-in or a service account key file,
	// else the metadata server on Google Cloud.
	SourceADC = "adc"
	// SourceServiceAccount uses a service account key file (JWT-bearer grant).
	SourceServiceAccount = "service_account"
	// SourceMetadata asks the GCE metadata server for the default service account's token.
	SourceMetadata = "metadata"
	// SourceStatic serves a token given in the options or the environment, without refresh.
	SourceStatic = "static"
)

// Defaults of the options.
const (
	// DefaultUpstream is Google Cloud Code Assist, the API the Gemini CLI talks to.
	DefaultUpstream = "https://cloudcode-pa.googleapis.com"
	// DefaultTokenURL is Google's OAuth 2.0 token endpoint.
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// DefaultScope is the scope ADC, service account and metadata tokens are requested with.
	DefaultScope = "https://www.googleapis.com/auth/cloud-platform"
	// DefaultRefreshWindow is how close to its expiry a token is replaced.
	DefaultRefreshWindow = 5 * time.Minute
	// DefaultLockTimeout bounds the wait for the cross-process lock on oauth_creds.json.
	DefaultLockTimeout = 30 * time.Second
	// DefaultTimeout bounds one request to the token endpoint or the metadata server.
	DefaultTimeout = 30 * time.Second
)

// The Gemini CLI's OAuth client (packages/core/src/code_assist/oauth2.ts in google-gemini/gemini-cli). It is
// an installed-application client: Google's documentation says its secret "is obviously not treated as a
// secret", and the Gemini CLI publishes both in its source.
const (
	// GeminiCLIClientID is the Gemini CLI's OAuth client id, the default of client_id.
	GeminiCLIClientID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
	// GeminiCLIClientSecret is the Gemini CLI's published client secret, the default of client_secret.
	GeminiCLIClientSecret = "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"
)

// EnvStaticToken is the environment variable the static source reads when the token option is absent (the
// Gemini CLI honours the same variable).
const EnvStaticToken = "GOOGLE_CLOUD_ACCESS_TOKEN"

// envGeminiHome replaces the home directory for the Gemini CLI, which then keeps its state under
// $GEMINI_CLI_HOME/.gemini.
const envGeminiHome = "GEMINI_CLI_HOME"

// envADC names an Application Default Credentials file.
const envADC = "GOOGLE_APPLICATION_CREDENTIALS"

// quotaHeader carries the quota project.
const quotaHeader = "x-goog-user-project"

var sources = []string{SourceGeminiCLI, SourceADC, SourceServiceAccount, SourceMetadata, SourceStatic}

// knownOptions lists every option the plugin reads.
var knownOptions = []string{
	"source", "creds_file", "client_id", "client_secret", "token_url", "refresh_window", "lock_timeout",
	"timeout", "scopes", "adc_file", "quota_project", "metadata_host", "token", "extra_hosts",
}

// appliesTo lists, for options that are not used by every source, the sources that use them.
var appliesTo = optcheck.Modes{
	"creds_file":     {SourceGeminiCLI},
	"client_id":      {SourceGeminiCLI},
	"client_secret":  {SourceGeminiCLI},
	"lock_timeout":   {SourceGeminiCLI},
	"token_url":      {SourceGeminiCLI, SourceADC, SourceServiceAccount},
	"refresh_window": {SourceGeminiCLI, SourceADC, SourceServiceAccount, SourceMetadata},
	"timeout":        {SourceGeminiCLI, SourceADC, SourceServiceAccount, SourceMetadata},
	"scopes":         {SourceADC, SourceServiceAccount, SourceMetadata},
	"adc_file":       {SourceADC, SourceServiceAccount},
	"metadata_host":  {SourceADC, SourceMetadata},
	"token":          {SourceStatic},
}

// config is a validated options block.
type config struct {
	source string

	// gemini_cli
	credsFile    string
	clientID     string
	clientSecret string
	lockTimeout  time.Duration

	// every grant
	tokenURL      string // "" means the default of the grant (the ADC file's token_uri, else Google's)
	refreshWindow time.Duration
	timeout       time.Duration
	client        *http.Client

	// adc, service_account, metadata
	adcFile      string // "" means search GOOGLE_APPLICATION_CREDENTIALS, then gcloud's well-known file
	scopes       []string
	metadataHost string

	// static
	static string

	quotaProject string
	extraHosts   []string

	// What placed the files the source reads, for Info.IdentityFrom: the source was chosen by whether
	// credsFile exists, and credsFile is the default under the home directory (or GEMINI_CLI_HOME).
	autoSource, defaultCreds bool
}

// parseConfig validates the options block.
func parseConfig(raw map[string]any) (*config, error) {
	o := sdk.Options(raw)
	if err := o.Unknown(knownOptions...); err != nil {
		return nil, err
	}
	c := &config{}
	var err error

	src, err := o.String("source", "")
	if err != nil {
		return nil, err
	}
	src = strings.ToLower(strings.TrimSpace(src))
	credsFile, err := o.String("creds_file", "")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(credsFile) != "" {
		if c.credsFile, err = expandHome(credsFile); err != nil {
			return nil, sdk.BadConfig("creds_file", "%v", err)
		}
	} else if c.credsFile, err = defaultCredsFile(); err != nil {
		c.credsFile = "" // only an error when gemini_cli is chosen (below)
	} else {
		c.defaultCreds = true
	}
	c.autoSource = src == ""
	switch {
	case src == "" && credsFile != "":
		src = SourceGeminiCLI
	case src == "" && o["adc_file"] != nil:
		src = SourceADC
	case src == "" && c.credsFile != "" && fileExists(c.credsFile):
		src = SourceGeminiCLI
	case src == "":
		src = SourceADC
	}
	if !slices.Contains(sources, src) {
		msg := fmt.Sprintf("must be one of %s, got %q", strings.Join(sources, ", "), src)
		if s := suggest.Closest(src, sources); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return nil, sdk.BadConfig("source", "%s", msg)
	}
	c.source = src
	if key, srcs := appliesTo.Unused(raw, knownOptions, src); key != "" {
		return nil, sdk.BadConfig(key, "is not used with source %s (it applies to: %s)", src, strings.Join(srcs, ", "))
	}

	if src == SourceGeminiCLI {
		if c.credsFile == "" {
			return nil, sdk.BadConfig("creds_file", "cannot find the home directory for the default ~/.gemini/oauth_creds.json; set creds_file")
		}
		if c.clientID, err = o.String("client_id", GeminiCLIClientID); err != nil {
			return nil, err
		}
		if strings.TrimSpace(c.clientID) == "" || tokenhttp.HasControl(c.clientID) {
			return nil, sdk.BadConfig("client_id", "must be an OAuth client id, e.g. the Gemini CLI's (the default)")
		}
		if c.clientSecret, err = o.String("client_secret", GeminiCLIClientSecret); err != nil {
			return nil, err
		}
		if c.clientSecret == "" || tokenhttp.HasControl(c.clientSecret) {
			return nil, sdk.BadConfig("client_secret", "must be the OAuth client's secret (leave it out to use the Gemini CLI's)")
		}
		if c.lockTimeout, err = optcheck.PositiveDuration(o, "lock_timeout", DefaultLockTimeout); err != nil {
			return nil, err
		}
	}

	tokenURL, err := o.String("token_url", "")
	if err != nil {
		return nil, err
	}
	if tokenURL != "" {
		if _, err := tokenhttp.CheckURL(tokenURL, "https://oauth2.googleapis.com/token"); err != nil {
			return nil, sdk.BadConfig("token_url", "%s", err)
		}
		c.tokenURL = tokenURL
	}
	if c.refreshWindow, err = o.Duration("refresh_window", DefaultRefreshWindow); err != nil {
		return nil, err
	}
	if c.timeout, err = optcheck.PositiveDuration(o, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}

	rawScopes, err := o.Strings("scopes")
	if err != nil {
		return nil, err
	}
	for _, s := range rawScopes {
		c.scopes = append(c.scopes, strings.Fields(s)...)
	}
	if raw["scopes"] != nil && len(c.scopes) == 0 {
		return nil, sdk.BadConfig("scopes", "must name at least one scope, e.g. %s", DefaultScope)
	}
	if len(c.scopes) == 0 {
		c.scopes = []string{DefaultScope}
	}
	for _, s := range c.scopes {
		if tokenhttp.HasControl(s) || strings.ContainsAny(s, ",\"") {
			return nil, sdk.BadConfig("scopes", "%q is not a scope", s)
		}
	}

	adcFile, err := o.String("adc_file", "")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(adcFile) != "" {
		if c.adcFile, err = expandHome(adcFile); err != nil {
			return nil, sdk.BadConfig("adc_file", "%v", err)
		}
	}

	if c.metadataHost, err = o.String("metadata_host", ""); err != nil {
		return nil, err
	}
	if c.metadataHost != "" {
		if err := checkHostPort(c.metadataHost); err != nil {
			return nil, sdk.BadConfig("metadata_host", "%v", err)
		}
	}

	if src == SourceStatic {
		if c.static, err = o.String("token", ""); err != nil {
			return nil, err
		}
		from := "token"
		if c.static == "" {
			c.static, from = strings.TrimSpace(os.Getenv(EnvStaticToken)), "environment variable "+EnvStaticToken
		}
		if c.static == "" {
			return nil, sdk.BadConfig("token", "source static needs an access token: give token_env (an environment variable name), token_file, or set %s", EnvStaticToken)
		}
		if tokenhttp.HasControl(c.static) || strings.ContainsAny(c.static, " \t") {
			return nil, sdk.BadConfig("token", "the access token from %s holds spaces or control characters, which cannot be sent in a header", from)
		}
	}

	if c.quotaProject, err = o.String("quota_project", ""); err != nil {
		return nil, err
	}
	if c.quotaProject != "" && (tokenhttp.HasControl(c.quotaProject) || strings.ContainsAny(c.quotaProject, " \t/")) {
		return nil, sdk.BadConfig("quota_project", "must be a Google Cloud project id, got %q", c.quotaProject)
	}

	hosts, err := o.Strings("extra_hosts")
	if err != nil {
		return nil, err
	}
	for i, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*.googleapis.com" {
			return nil, sdk.BadConfig(fmt.Sprintf("extra_hosts[%d]", i), "%q is refused: googleapis.com is on the public suffix list, so tokenhost takes no wildcard over it; list the hosts instead (the Vertex AI hosts are allowed already)", hosts[i])
		}
		if !validGoogleHost(h) {
			return nil, sdk.BadConfig(fmt.Sprintf("extra_hosts[%d]", i), "must be a host name under googleapis.com such as generativelanguage.googleapis.com, or a wildcard below one (*.name.googleapis.com), got %q", hosts[i])
		}
		c.extraHosts = append(c.extraHosts, h)
	}

	c.client = newClient(c.metadataHost, c.timeout)
	return c, nil
}

// checkHostPort validates a host or host:port.
func checkHostPort(hp string) error {
	if strings.ContainsAny(hp, "/@?# \t") || tokenhttp.HasControl(hp) {
		return fmt.Errorf("must be a host or host:port such as 127.0.0.1:8080, got %q", hp)
	}
	host := hp
	if h, port, err := net.SplitHostPort(hp); err == nil {
		if port == "" {
			return fmt.Errorf("has an empty port: %q", hp)
		}
		host = h
	}
	if host == "" {
		return fmt.Errorf("must name a host, got %q", hp)
	}
	return nil
}

// validGoogleHost reports whether h is a host name under googleapis.com, or a *.-wildcard below one.
func validGoogleHost(h string) bool {
	name := strings.TrimPrefix(h, "*.")
	if !strings.HasSuffix(name, ".googleapis.com") || strings.Contains(name, "*") {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// mode describes the configuration for Info.Mode.
func (c *config) mode() string {
	switch c.source {
	case SourceGeminiCLI:
		return "gemini cli sign-in (" + tildePath(c.credsFile) + ")"
	case SourceADC:
		if c.adcFile != "" {
			return "application default credentials (" + tildePath(c.adcFile) + ")"
		}
		return "application default credentials (" + envADC + ", gcloud, metadata server)"
	case SourceServiceAccount:
		if c.adcFile != "" {
			return "service account (" + tildePath(c.adcFile) + ")"
		}
		return "service account (ADC file from " + envADC + ")"
	case SourceMetadata:
		return "GCE metadata server (default service account)"
	case SourceStatic:
		return "static access token"
	}
	return c.source
}
