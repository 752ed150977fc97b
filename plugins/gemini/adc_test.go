package gemini

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
)

const (
	gcloudClientID     = "764086051850-fake.apps.googleusercontent.com"
	gcloudClientSecret = "d-FL95Q19q7MQmFpd7hHD0Ty-fake"
	adcRefresh         = "1//adc-refresh-token-value"
	saEmail            = "tokenhost-test@example-project.iam.gserviceaccount.com"
)

// writeJSON writes v as JSON to a fresh file and returns its path.
func writeJSONFile(t *testing.T, name string, v any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func authorizedUser(extra map[string]any) map[string]any {
	doc := map[string]any{
		"type": "authorized_user", "client_id": gcloudClientID, "client_secret": gcloudClientSecret,
		"refresh_token": adcRefresh, "quota_project_id": "file-quota-project", "universe_domain": "googleapis.com",
	}
	return merge(doc, extra)
}

func TestADCAuthorizedUser(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	g.AddClient(gcloudClientID, gcloudClientSecret)
	g.AddRefreshToken(adcRefresh)
	path := writeJSONFile(t, "application_default_credentials.json", authorizedUser(nil))

	src := configure(t, map[string]any{"source": SourceADC, "adc_file": path, "token_url": g.TokenURL()})
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %s: %s", sdk.KindOf(err), sdk.RedactString(err.Error(), gcloudClientSecret, adcRefresh))
	}
	if !g.Valid(tok.Value) || tok.Type != "Bearer" || tok.Expiry.IsZero() {
		t.Fatalf("Token: valid %v, type %q, expiry %s", g.Valid(tok.Value), tok.Type, tok.Expiry)
	}
	if got := tok.Headers["x-goog-user-project"]; got != "file-quota-project" {
		t.Errorf("x-goog-user-project = %q, want the file's quota_project_id", got)
	}
	form := g.LastForm()
	if form.Get("grant_type") != "refresh_token" || form.Get("client_id") != gcloudClientID || form.Get("refresh_token") != "[redacted]" || form.Get("client_secret") != "[redacted]" {
		t.Errorf("refresh grant form %v", form)
	}

	// Token serves the cache; Refresh gets a new token from the endpoint.
	if again, _ := src.Token(t.Context()); again.Value != tok.Value || g.Refreshes() != 1 {
		t.Fatalf("second Token did not come from the cache (refreshes %d)", g.Refreshes())
	}
	next, err := src.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(sdk.KindOf(err))
	}
	if next.Value == tok.Value || !g.Valid(next.Value) || g.Refreshes() != 2 {
		t.Fatalf("Refresh did not fetch a new token (refreshes %d)", g.Refreshes())
	}

	// The quota_project option wins over the file.
	src = configure(t, map[string]any{"source": SourceADC, "adc_file": path, "token_url": g.TokenURL(), "quota_project": "option-project"})
	tok, err = src.Token(t.Context())
	if err != nil || tok.Headers["x-goog-user-project"] != "option-project" {
		t.Fatalf("quota_project option: %v, header %q", err, tok.Headers["x-goog-user-project"])
	}

	// A revoked sign-in is ReauthRequired with gcloud's next step and no secret.
	g.RevokeRefreshToken(adcRefresh)
	_, err = src.Refresh(t.Context(), tok)
	wantKind(t, err, sdk.KindReauthRequired)
	if !strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("error %q does not give the next step", err)
	}
	assertNoSecrets(t, err.Error(), gcloudClientSecret, adcRefresh, tok.Value)
}

func TestADCFromEnvironment(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	g.AddClient(gcloudClientID, gcloudClientSecret)
	g.AddRefreshToken(adcRefresh)
	path := writeJSONFile(t, "adc.json", authorizedUser(map[string]any{"token_uri": g.TokenURL(), "quota_project_id": nil}))
	t.Setenv(envADC, path)

	src := New()
	info, err := src.Configure(t.Context(), map[string]any{}) // no oauth_creds.json: adc by default
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.Mode, "application default credentials") {
		t.Errorf("default source: Mode %q", info.Mode)
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token with GOOGLE_APPLICATION_CREDENTIALS and the file's token_uri: %s", sdk.KindOf(err))
	}
	if len(tok.Headers) != 0 {
		t.Errorf("headers %v without a quota project", tok.Headers)
	}
}

func TestADCMissing(t *testing.T) {
	isolate(t)
	src := configure(t, map[string]any{"source": SourceADC})
	_, err := src.Token(t.Context())
	wantKind(t, err, sdk.KindReauthRequired)
	if !strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("error %q does not give the next step", err)
	}

	src = configure(t, map[string]any{"source": SourceADC, "adc_file": filepath.Join(t.TempDir(), "nope.json")})
	_, err = src.Token(t.Context())
	wantKind(t, err, sdk.KindReauthRequired)
	if !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("error %q does not name the file", err)
	}
}

// newServiceAccount generates a key and returns it with a service account key file for it.
func newServiceAccount(t *testing.T, extra map[string]any) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"type":                        "service_account",
		"project_id":                  "example-project",
		"private_key_id":              "0123456789abcdef",
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                saEmail,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token", // token_url must override it
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}
	return key, writeJSONFile(t, "sa.json", merge(doc, extra))
}

func TestServiceAccount(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	key, path := newServiceAccount(t, nil)
	g.AddServiceAccount(saEmail, &key.PublicKey)
	privPEM := readPrivateKey(t, path)

	opts := map[string]any{"source": SourceServiceAccount, "adc_file": path, "token_url": g.TokenURL(), "quota_project": "sa-quota"}
	src := configure(t, opts)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %s: %s", sdk.KindOf(err), err)
	}
	if !g.Valid(tok.Value) || g.Assertions() != 1 {
		t.Fatalf("the JWT-bearer grant did not yield a valid token (assertions %d)", g.Assertions())
	}
	claims := g.LastClaims()
	if claims["iss"] != saEmail || claims["aud"] != g.TokenURL() || claims["scope"] != DefaultScope {
		t.Errorf("assertion claims iss=%v aud=%v scope=%v", claims["iss"], claims["aud"], claims["scope"])
	}
	if g.LastForm().Get("grant_type") != fakes.JWTBearerGrant {
		t.Errorf("grant_type %q", g.LastForm().Get("grant_type"))
	}
	if tok.Headers["x-goog-user-project"] != "sa-quota" {
		t.Errorf("x-goog-user-project = %q", tok.Headers["x-goog-user-project"])
	}
	next, err := src.Refresh(t.Context(), tok)
	if err != nil || next.Value == tok.Value || g.Assertions() != 2 {
		t.Fatalf("Refresh: %v, new token %v, assertions %d", sdk.KindOf(err), next.Value != tok.Value, g.Assertions())
	}

	// Scopes are sent space-separated in the assertion.
	src = configure(t, merge(opts, map[string]any{"scopes": []any{"https://www.googleapis.com/auth/a", "https://www.googleapis.com/auth/b"}}))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(sdk.KindOf(err))
	}
	if got := g.LastClaims()["scope"]; got != "https://www.googleapis.com/auth/a https://www.googleapis.com/auth/b" {
		t.Errorf("scope claim %v", got)
	}

	// A key the endpoint does not know: invalid_grant, ReauthRequired, no private key in the message.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	g.AddServiceAccount(saEmail, &other.PublicKey)
	src = configure(t, opts)
	_, err = src.Token(t.Context())
	wantKind(t, err, sdk.KindReauthRequired)
	if !strings.Contains(err.Error(), "Invalid JWT Signature") || !strings.Contains(err.Error(), "key") {
		t.Errorf("error %q does not explain the refusal", err)
	}
	assertNoSecrets(t, err.Error(), privPEM, "PRIVATE KEY")
}

func readPrivateKey(t *testing.T, path string) string {
	t.Helper()
	doc := readDoc(t, path)
	return str(t, doc["private_key"])
}

func TestServiceAccountSourceChecksType(t *testing.T) {
	isolate(t)
	path := writeJSONFile(t, "adc.json", authorizedUser(nil))
	src := configure(t, map[string]any{"source": SourceServiceAccount, "adc_file": path})
	_, err := src.Token(t.Context())
	wantKind(t, err, sdk.KindBadConfig)
	if !strings.Contains(err.Error(), "authorized_user") {
		t.Errorf("error %q does not say what the file holds", err)
	}
	assertNoSecrets(t, err.Error(), gcloudClientSecret, adcRefresh)
}

func TestADCFileProblems(t *testing.T) {
	isolate(t)
	cases := []struct {
		name string
		doc  any
		kind sdk.Kind
		want string
	}{
		{"no type", map[string]any{"refresh_token": adcRefresh}, sdk.KindInternal, "type"},
		{"external account", map[string]any{"type": "external_account", "audience": "x"}, sdk.KindInternal, "external_account"},
		{"no refresh token", authorizedUser(map[string]any{"refresh_token": nil}), sdk.KindReauthRequired, "gcloud auth application-default login"},
		{"client secrets file", map[string]any{"installed": map[string]any{"client_secret": gcloudClientSecret}}, sdk.KindInternal, "client secrets"},
		{"sa without key", map[string]any{"type": "service_account", "client_email": saEmail}, sdk.KindInternal, "private_key"},
		{"sa with broken key", map[string]any{"type": "service_account", "client_email": saEmail, "private_key": "-----BEGIN PRIVATE KEY-----\nnot-base64-secret-material\n-----END PRIVATE KEY-----\n"}, sdk.KindInternal, "private_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGoogle(t, fakes.GoogleTokenConfig{})
			path := writeJSONFile(t, "adc.json", c.doc)
			src := configure(t, map[string]any{"source": SourceADC, "adc_file": path, "token_url": g.TokenURL()})
			_, err := src.Token(t.Context())
			wantKind(t, err, c.kind)
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name the file and %q", err, c.want)
			}
			assertNoSecrets(t, err.Error(), gcloudClientSecret, adcRefresh, "not-base64-secret-material")
		})
	}
}

// metadataServer is a fake GCE metadata server; same makes it hand out one token forever.
func metadataServer(t *testing.T, same bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("scopes") != DefaultScope {
			http.Error(w, "unexpected scopes", http.StatusBadRequest)
			return
		}
		i := n.Add(1)
		if same {
			i = 1
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"ya29.metadata-%d","expires_in":3599,"token_type":"Bearer"}`, i)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestMetadata(t *testing.T) {
	isolate(t)
	srv, n := metadataServer(t, false)
	host := strings.TrimPrefix(srv.URL, "http://")
	src := configure(t, map[string]any{"source": SourceMetadata, "metadata_host": host, "quota_project": "md-quota"})
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %s: %s", sdk.KindOf(err), err)
	}
	if tok.Value != "ya29.metadata-1" || tok.Expiry.IsZero() || tok.Headers["x-goog-user-project"] != "md-quota" {
		t.Fatalf("Token = %s, expiry %s, headers %v", sdk.Fingerprint(tok.Value), tok.Expiry, tok.Headers)
	}
	next, err := src.Refresh(t.Context(), tok)
	if err != nil || next.Value != "ya29.metadata-2" || n.Load() != 2 {
		t.Fatalf("Refresh = %s, %v (requests %d)", sdk.Fingerprint(next.Value), err, n.Load())
	}

	// source adc with no file falls back to the metadata server when one is configured.
	src = configure(t, map[string]any{"source": SourceADC, "metadata_host": host})
	if tok, err := src.Token(t.Context()); err != nil || !strings.HasPrefix(tok.Value, "ya29.metadata-") {
		t.Fatalf("adc fallback to the metadata server: %v", err)
	}
}

func TestMetadataSameTokenOnRefresh(t *testing.T) {
	isolate(t)
	srv, _ := metadataServer(t, true)
	src := configure(t, map[string]any{"source": SourceMetadata, "metadata_host": strings.TrimPrefix(srv.URL, "http://")})
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Refresh(t.Context(), tok)
	wantKind(t, err, sdk.KindUnavailable)
	assertNoSecrets(t, err.Error(), tok.Value)
}

func TestMetadataUnreachable(t *testing.T) {
	isolate(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	src := configure(t, map[string]any{"source": SourceMetadata, "metadata_host": host, "timeout": "5s"})
	_, err := src.Token(t.Context())
	wantKind(t, err, sdk.KindUnavailable)
	if !strings.Contains(err.Error(), "metadata server") {
		t.Errorf("error %q does not name the metadata server", err)
	}
}
