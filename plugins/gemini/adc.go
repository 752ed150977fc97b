package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// ADC file types the plugin accepts.
const (
	typeAuthorizedUser = "authorized_user"
	typeServiceAccount = "service_account"
)

// onGCE reports whether this process runs on Google Cloud (a variable so tests need not probe the network).
var onGCE = metadata.OnGCEWithContext

// adcFile is a parsed Application Default Credentials file: just what the plugin checks before handing the
// JSON to Google's library.
type adcFile struct {
	typ          string
	quotaProject string
	doc          map[string]json.RawMessage
}

// parseADC detects the type of an ADC file and checks that it holds what that type needs. Its errors are
// *credfile.Problem values that never quote a secret from the file.
func parseADC(data []byte) (*adcFile, error) {
	doc, err := credfile.ParseObject(data)
	if err != nil {
		return nil, err
	}
	typ, err := credfile.OptString(doc, "type")
	if err != nil {
		return nil, err
	}
	a := &adcFile{typ: typ, doc: doc}
	if a.quotaProject, err = credfile.OptString(doc, "quota_project_id"); err != nil {
		return nil, err
	}
	if tokenhttp.HasControl(a.quotaProject) || strings.ContainsAny(a.quotaProject, " \t/") {
		return nil, credfile.Corrupt("has a quota_project_id that is not a project id")
	}
	var need []string
	switch typ {
	case typeAuthorizedUser:
		need = []string{"client_id", "client_secret", "refresh_token"}
	case typeServiceAccount:
		need = []string{"client_email", "private_key"}
	case "":
		if _, ok := doc["installed"]; ok {
			return nil, credfile.Corrupt("is an OAuth client secrets file, not credentials; run `gcloud auth application-default login` and use the file it writes")
		}
		return nil, credfile.Corrupt("has no \"type\" field, so it is not an Application Default Credentials file")
	default:
		return nil, credfile.Corrupt("holds %s credentials; this plugin accepts %q and %q files", quoteType(typ), typeAuthorizedUser, typeServiceAccount)
	}
	for _, k := range need {
		v, err := credfile.OptString(doc, k)
		if err != nil {
			return nil, err
		}
		if v == "" {
			if k == "refresh_token" {
				return nil, credfile.NotSignedIn("has no refresh_token")
			}
			return nil, credfile.Corrupt("has no %s", k)
		}
	}
	for _, k := range []string{"token_uri", "private_key_id", "project_id", "universe_domain"} {
		if _, err := credfile.OptString(doc, k); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// secrets returns the secret values of the file, for redaction.
func (a *adcFile) secrets() []string {
	var out []string
	for _, k := range []string{"client_secret", "refresh_token", "private_key"} {
		if v, _ := credfile.OptString(a.doc, k); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// tokenURL returns the token endpoint the library will use for this file, given the token_url option.
func (a *adcFile) tokenURL(override string) string {
	if override != "" {
		return override
	}
	if v, _ := credfile.OptString(a.doc, "token_uri"); v != "" {
		return v
	}
	return DefaultTokenURL
}

// withTokenURL returns the file's JSON with token_uri set to tokenURL, so that Google's library sends the
// grant there and, for a service account, names it as the assertion's aud.
func (a *adcFile) withTokenURL(tokenURL string) ([]byte, error) {
	doc := make(map[string]json.RawMessage, len(a.doc)+1)
	for k, v := range a.doc {
		doc[k] = v
	}
	b, err := json.Marshal(tokenURL)
	if err != nil {
		return nil, err
	}
	doc["token_uri"] = b
	return json.Marshal(doc)
}

// locateADC returns the ADC file to use and how it was found: the adc_file option, GOOGLE_APPLICATION_CREDENTIALS,
// or gcloud's well-known file when it exists. It returns "" when none is configured and the well-known file
// does not exist.
func locateADC(cfg *config) (path, from string) {
	if cfg.adcFile != "" {
		return cfg.adcFile, "adc_file"
	}
	if p := os.Getenv(envADC); p != "" {
		if abs, err := expandHome(p); err == nil {
			return abs, envADC
		}
		return p, envADC
	}
	if p := wellKnownADCFile(); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, "gcloud"
		}
	}
	return "", ""
}

// adcToken gets a new token with Google's library from the ADC file (source adc or service_account), or
// from the metadata server when source adc finds no file and runs on Google Cloud.
func adcToken(ctx context.Context, cfg *config) (sdk.Token, error) {
	path, _ := locateADC(cfg)
	if path == "" {
		if cfg.source == SourceADC && (cfg.metadataHost != "" || onGCE(ctx)) {
			return metadataToken(ctx, cfg)
		}
		if cfg.source == SourceServiceAccount {
			return sdk.Token{}, sdk.BadConfig("adc_file", "source service_account needs a service account key file: set adc_file or GOOGLE_APPLICATION_CREDENTIALS to its path")
		}
		return sdk.Token{}, sdk.ReauthRequired("no Application Default Credentials found (%s is not set and %s does not exist); %s", envADC, wellKnownADCFile(), nextADCMissing)
	}
	a, err := credfile.Read(ctx, path, parseADC)
	if err != nil {
		next := nextADCUser
		if cfg.source == SourceServiceAccount {
			next = "point adc_file or GOOGLE_APPLICATION_CREDENTIALS at a service account key file"
		}
		return sdk.Token{}, fileError(path, err, next)
	}
	if cfg.source == SourceServiceAccount && a.typ != typeServiceAccount {
		return sdk.Token{}, sdk.BadConfig("adc_file", "%s holds %q credentials, not a service account key; use source adc for it", path, a.typ)
	}
	tokenURL := a.tokenURL(cfg.tokenURL)
	ep := endpoint{display: tokenkit.Display(tokenURL), next: nextADCUser, redact: a.secrets()}
	if a.typ == typeServiceAccount {
		ep.next = nextServiceAccount
	}
	if _, err := tokenhttp.CheckURL(tokenURL, DefaultTokenURL); err != nil {
		return sdk.Token{}, sdk.Internal("%s names a token_uri that is not an https URL (%s); set token_url to override it", path, tokenkit.Display(tokenURL))
	}
	data, err := a.withTokenURL(tokenURL)
	if err != nil {
		return sdk.Token{}, sdk.Internal("cannot use %s", path)
	}

	// A new Credentials per fetch: its token source caches, and Refresh must get a token the cache cannot
	// hand back.
	lctx := context.WithValue(ctx, oauth2.HTTPClient, cfg.client)
	creds, err := google.CredentialsFromJSONWithTypeAndParams(lctx, data, google.CredentialsType(a.typ), google.CredentialsParams{Scopes: cfg.scopes})
	if err != nil {
		return sdk.Token{}, sdk.Internal("%s is not usable %s credentials: %s", path, a.typ, tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, ep.redact))
	}
	ot, err := creds.TokenSource.Token()
	if err != nil {
		err = libraryError(ep, err, path, a.typ)
		slog.Debug("gemini: token request failed", "file", path, "type", a.typ, "kind", sdk.KindOf(err))
		return sdk.Token{}, err
	}
	if ot.AccessToken == "" || tokenhttp.HasControl(ot.AccessToken) || strings.ContainsAny(ot.AccessToken, " \t") {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s returned an access token that cannot be sent in a header", ep.display)
	}
	qp := cfg.quotaProject
	if qp == "" {
		qp = a.quotaProject
	}
	t := sdk.Token{Value: ot.AccessToken, Type: tokenType(ot.TokenType), Expiry: ot.Expiry, Headers: quotaHeaders(qp)}
	slog.Debug("gemini: token fetched", "file", path, "type", a.typ, "token", sdk.Fingerprint(t.Value), "expiry", t.Expiry)
	return t, nil
}

// libraryError turns an error of golang.org/x/oauth2 into one that says what failed and what to do next,
// quoting at most the endpoint's error code and description.
func libraryError(ep endpoint, err error, path, typ string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status, ct := 0, ""
		if re.Response != nil {
			status, ct = re.Response.StatusCode, re.Response.Header.Get("Content-Type")
		}
		return responseError(ep, status, ct, re.Body)
	}
	var ue *url.Error
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) {
		return transportError(ep, err)
	}
	// The JWT flow reports transport and decoding failures as text only ("oauth2: cannot fetch token: ...").
	msg := err.Error()
	switch {
	case strings.Contains(msg, "private key"):
		return sdk.Internal("%s holds a private_key that cannot be used (%s); create a new key for the service account", path, tokenhttp.Clean(msg, tokenhttp.MaxDescription, ep.redact))
	case strings.Contains(msg, "Timeout exceeded"), strings.Contains(msg, "deadline exceeded"):
		return transportError(ep, context.DeadlineExceeded)
	case strings.Contains(msg, "missing access_token"):
		return sdk.Unavailable("token endpoint %s answered without an access_token; try again later", ep.display)
	}
	return sdk.Unavailable("the %s token request to %s failed: %s", typ, ep.display, tokenhttp.Clean(strings.TrimPrefix(msg, "oauth2: "), tokenhttp.MaxDescription, ep.redact))
}

// metadataToken gets a token for the default service account from the GCE metadata server, through Google's
// metadata client (which honours GCE_METADATA_HOST; the metadata_host option redirects its requests).
func metadataToken(ctx context.Context, cfg *config) (sdk.Token, error) {
	mc := metadata.NewWithOptions(&metadata.Options{Client: cfg.client, Logger: slog.New(slog.DiscardHandler)})
	suffix := "instance/service-accounts/default/token"
	if len(cfg.scopes) > 0 {
		suffix += "?" + url.Values{"scopes": {strings.Join(cfg.scopes, ",")}}.Encode()
	}
	body, err := mc.GetWithContext(ctx, suffix)
	if err != nil {
		return sdk.Token{}, metadataError(err)
	}
	var res struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(io.LimitReader(strings.NewReader(body), maxTokenResponse)).Decode(&res); err != nil || res.AccessToken == "" {
		return sdk.Token{}, sdk.Unavailable("the metadata server did not answer with a token; try again later")
	}
	if tokenhttp.HasControl(res.AccessToken) || strings.ContainsAny(res.AccessToken, " \t") {
		return sdk.Token{}, sdk.Unavailable("the metadata server returned an access token that cannot be sent in a header")
	}
	t := sdk.Token{Value: res.AccessToken, Type: tokenType(res.TokenType), Headers: quotaHeaders(cfg.quotaProject)}
	if res.ExpiresIn > 0 {
		t.Expiry = time.Now().Add(time.Duration(res.ExpiresIn) * time.Second)
	}
	slog.Debug("gemini: metadata token fetched", "token", sdk.Fingerprint(t.Value), "expiry", t.Expiry)
	return t, nil
}

// metadataError describes a failed metadata server request without quoting its answer.
func metadataError(err error) error {
	var me *metadata.Error
	var nd metadata.NotDefinedError
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &nd):
		return sdk.BadConfig("source", "the metadata server has no default service account for this instance; attach a service account to it, or use another source")
	case errors.As(err, &me) && tokenkit.Transient(me.Code):
		return sdk.Unavailable("the metadata server answered %d; try again later", me.Code)
	case errors.As(err, &me) && me.Code == 403:
		return sdk.BadConfig("scopes", "the metadata server refused a token (403); check the instance's access scopes and the scopes option")
	case errors.As(err, &me):
		return sdk.Internal("the metadata server answered %d to a token request", me.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return sdk.Unavailable("the metadata server did not answer in time; is this running on Google Cloud? (raise timeout if it is just slow)")
	}
	return sdk.Unavailable("the metadata server could not be reached (%s); is this running on Google Cloud?", tokenhttp.Clean(tokenhttp.NetReason(err), tokenhttp.MaxDescription, nil))
}
