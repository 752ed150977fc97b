package gemini

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
)

const (
	testClientID     = "test-client-0000.apps.googleusercontent.com"
	testClientSecret = "GOCSPX-test-Secret+/=&%value"
	testRefresh      = "1//test-refresh-token-value"
)

// isolate points every location the plugin looks at by default into a fresh temporary home.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	for _, k := range []string{envGeminiHome, envADC, EnvStaticToken, "CLOUDSDK_CONFIG", "GCE_METADATA_HOST", "APPDATA"} {
		t.Setenv(k, "")
	}
	old := onGCE
	onGCE = func(context.Context) bool { return false }
	t.Cleanup(func() { onGCE = old })
	return home
}

// newGoogle starts a fake token endpoint that knows the test client and refresh token.
func newGoogle(t *testing.T, cfg fakes.GoogleTokenConfig) *fakes.GoogleTokenServer {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = testClientID, testClientSecret
	}
	g := fakes.NewGoogleTokenServer(cfg)
	g.AddRefreshToken(testRefresh)
	t.Cleanup(g.Close)
	return g
}

// cliOptions are options for the gemini_cli source against g, with extra merged in (nil values delete).
func cliOptions(g *fakes.GoogleTokenServer, path string, extra map[string]any) map[string]any {
	o := map[string]any{
		"source": SourceGeminiCLI, "creds_file": path, "token_url": g.TokenURL(),
		"client_id": testClientID, "client_secret": testClientSecret,
	}
	return merge(o, extra)
}

func merge(o, extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		out[k] = v
	}
	for k, v := range extra {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// configure returns a configured source; it fails the test on a Configure error.
func configure(t *testing.T, opts map[string]any) *source {
	t.Helper()
	s := New().(*source)
	if _, err := s.Configure(t.Context(), opts); err != nil {
		t.Fatalf("Configure: %s", sdk.RedactString(err.Error(), testClientSecret))
	}
	return s
}

// credsPath returns a path for oauth_creds.json in a fresh directory.
func credsPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), ".gemini", "oauth_creds.json")
}

// writeExpired writes an oauth_creds.json whose access token expired an hour ago.
func writeExpired(t *testing.T, path string, extra map[string]any) string {
	t.Helper()
	access := "ya29.expired-" + strings.Repeat("x", 20)
	if err := fakes.WriteGeminiCreds(path, access, testRefresh, time.Now().Add(-time.Hour), extra); err != nil {
		t.Fatal(err)
	}
	return access
}

// readDoc reads a JSON file into raw fields.
func readDoc(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s is not a JSON object after the write: %v", path, err)
	}
	return doc
}

func str(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("not a string: %s", raw)
	}
	return s
}

// assertNoSecrets fails when msg holds any of the secrets (named by fingerprint, never printed).
func assertNoSecrets(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, testClientSecret, testRefresh) {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("message holds a secret (%s)", sdk.Fingerprint(s))
		}
	}
}

// wantKind fails unless err has kind k; it prints the error with the test secrets redacted.
func wantKind(t *testing.T, err error, k sdk.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one of kind %s", k)
	}
	if got := sdk.KindOf(err); got != k {
		t.Fatalf("error kind %s, want %s: %s", got, k, sdk.RedactString(err.Error(), testClientSecret, testRefresh))
	}
}
