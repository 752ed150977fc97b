package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// GrantClientCredentials is the OAuth 2.0 client credentials grant (RFC 6749 §4.4).
const GrantClientCredentials = "client_credentials"

// DefaultTimeout bounds one token request when the timeout option is not set.
const DefaultTimeout = 30 * time.Second

// supportedGrants lists the values the grant option accepts.
var supportedGrants = []string{GrantClientCredentials}

// knownOptions lists every option the plugin reads.
var knownOptions = []string{
	"grant", "token_url", "client_id", "client_secret", "scopes", "audience", "extra_params", "auth_style", "timeout",
}

// reservedParams are form parameters extra_params may not set: the grant and client authentication are the
// plugin's, and scope has its own option.
var reservedParams = []string{"grant_type", "client_id", "client_secret", "scope"}

// config is a validated options block.
type config struct {
	tokenURL  string // as configured
	endpoint  string // scheme://host/path of tokenURL, safe to show in messages
	authStyle string // "basic" | "post"
	timeout   time.Duration
	secret    string // kept only to redact it from anything the endpoint echoes back
	cc        *clientcredentials.Config
	client    *http.Client
}

// parseConfig validates the options block and builds the client credentials flow from it.
func parseConfig(raw map[string]any) (*config, error) {
	o := sdk.Options(raw)
	if err := o.Unknown(knownOptions...); err != nil {
		return nil, err
	}

	grant, err := o.String("grant", GrantClientCredentials)
	if err != nil {
		return nil, err
	}
	if grant != GrantClientCredentials {
		return nil, sdk.BadConfig("grant", "unsupported grant %q; supported: %s", grant, strings.Join(supportedGrants, ", "))
	}

	tokenURL, err := o.String("token_url", "")
	if err != nil {
		return nil, err
	}
	endpoint, err := checkTokenURL(tokenURL)
	if err != nil {
		return nil, err
	}

	clientID, err := o.String("client_id", "")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(clientID) == "" {
		return nil, sdk.BadConfig("client_id", "is required: the client identifier registered with the token endpoint")
	}
	secret, err := o.String("client_secret", "")
	if err != nil {
		return nil, err
	}
	if secret == "" {
		return nil, sdk.BadConfig("client_secret", "is required; give it inline, as client_secret_env (an environment variable name) or as client_secret_file")
	}

	rawScopes, err := o.Strings("scopes")
	if err != nil {
		return nil, err
	}
	var scopes []string
	for _, s := range rawScopes {
		scopes = append(scopes, strings.Fields(s)...)
	}

	audience, err := o.String("audience", "")
	if err != nil {
		return nil, err
	}
	extra, err := o.StringMap("extra_params")
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	names := make([]string, 0, len(extra))
	for k := range extra {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case strings.TrimSpace(k) == "":
			return nil, sdk.BadConfig("extra_params", "parameter names must not be empty")
		case slices.Contains(reservedParams, k):
			hint := "it is set by the plugin"
			if k == "scope" {
				hint = "use the scopes option"
			}
			return nil, sdk.BadConfig("extra_params."+k, "cannot override the %s parameter; %s", k, hint)
		case k == "audience" && audience != "":
			return nil, sdk.BadConfig("extra_params.audience", "conflicts with the audience option; give one of them")
		}
		params.Set(k, extra[k])
	}
	if audience != "" {
		params.Set("audience", audience)
	}

	style, err := o.String("auth_style", "basic")
	if err != nil {
		return nil, err
	}
	var oauthStyle oauth2.AuthStyle
	switch strings.ToLower(style) {
	case "basic", "client_secret_basic":
		style, oauthStyle = "basic", oauth2.AuthStyleInHeader
	case "post", "client_secret_post":
		style, oauthStyle = "post", oauth2.AuthStyleInParams
	default:
		return nil, sdk.BadConfig("auth_style", "must be basic (client_secret_basic) or post (client_secret_post), got %q", style)
	}

	timeout, err := optcheck.PositiveDuration(o, "timeout", DefaultTimeout)
	if err != nil {
		return nil, err
	}

	return &config{
		tokenURL:  tokenURL,
		endpoint:  endpoint,
		authStyle: style,
		timeout:   timeout,
		secret:    secret,
		cc: &clientcredentials.Config{
			ClientID:       clientID,
			ClientSecret:   secret,
			TokenURL:       tokenURL,
			Scopes:         scopes,
			EndpointParams: params,
			AuthStyle:      oauthStyle,
		},
		client: tokenhttp.NewClient(&recordingTransport{base: tokenhttp.NewTransport()}, timeout),
	}, nil
}

// checkTokenURL validates token_url and returns the form of it that is safe to show in messages.
func checkTokenURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", sdk.BadConfig("token_url", "is required: the OAuth token endpoint, e.g. https://idp.example/oauth2/token")
	}
	endpoint, err := tokenhttp.CheckURL(raw, "https://idp.example/oauth2/token")
	switch {
	case errors.Is(err, tokenhttp.ErrUserInfo):
		return "", sdk.BadConfig("token_url", "%s; use client_id and client_secret", err)
	case err != nil:
		return "", sdk.BadConfig("token_url", "%s", err)
	}
	return endpoint, nil
}

// mode describes the configuration for Info.Mode.
func (c *config) mode() string {
	return fmt.Sprintf("%s (%s)", GrantClientCredentials, c.authStyle)
}
