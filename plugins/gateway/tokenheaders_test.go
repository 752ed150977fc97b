package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// tenantIdP is a loopback identity provider whose every endpoint wants X-Tenant: acme and answers
// 400 invalid_request without it, as some gateways in front of an identity provider do.
type tenantIdP struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]int // path -> requests that carried the tenant header
}

func newTenantIdP(t *testing.T) *tenantIdP {
	idp := &tenantIdP{seen: map[string]int{}}
	idp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Tenant") != "acme" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"missing tenant"}`))
			return
		}
		idp.mu.Lock()
		idp.seen[r.URL.Path]++
		idp.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": idp.srv.URL, "token_endpoint": idp.srv.URL + "/token"})
		case "/echo":
			// An endpoint that quotes a request header back in its error_description.
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_request", "error_description": "bad gateway secret " + r.Header.Get("X-Gateway-Secret")})
		case "/device":
			_ = json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "UC-1", "verification_uri": "https://idp.example/device", "interval": 1})
		case "/token":
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-tenant", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-tenant"})
		case "/revoke":
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *tenantIdP) count(path string) int {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return idp.seen[path]
}

var tenantHeaders = map[string]any{"X-Tenant": "acme"}

// token_headers reach the token endpoint: client_credentials succeeds with them, and without them the
// endpoint's invalid_request is a BadConfig whose hint names token_headers.
func TestTokenHeadersClientCredentials(t *testing.T) {
	idp := newTenantIdP(t)
	opts := map[string]any{"token_url": idp.srv.URL + "/token", "client_id": "c", "client_secret": clientSecret}
	src := configure(t, merge(opts, map[string]any{"token_headers": tenantHeaders}))
	if tok, err := src.Token(t.Context()); err != nil || tok.Value != "at-tenant" {
		t.Fatalf("Token = %q, %v; want at-tenant", tok.Value, err)
	}

	_, err := configure(t, opts).Token(t.Context())
	if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(err.Error(), "invalid_request") || !strings.Contains(err.Error(), "token_headers") ||
		!strings.Contains(err.Error(), "extra_params") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("without token_headers: %v; want a one-line BadConfig naming token_headers and extra_params", err)
	}
	assertNoSecret(t, err.Error())
}

// token_headers reach the device authorization endpoint, every token poll and the revocation endpoint.
func TestTokenHeadersDeviceFlowAndRevocation(t *testing.T) {
	idp := newTenantIdP(t)
	src := newSource(withWait((&polls{}).wait))
	if _, err := src.Configure(t.Context(), map[string]any{"grant": grantDeviceCode, "client_id": "cli",
		"device_authorization_url": idp.srv.URL + "/device", "token_url": idp.srv.URL + "/token",
		"revocation_url": idp.srv.URL + "/revoke", "store": filepath.Join(t.TempDir(), "s.json"),
		"token_headers": tenantHeaders}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Login(t.Context(), &showUI{}); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if tok, err := src.Token(t.Context()); err != nil || tok.Value != "at-tenant" {
		t.Fatalf("Token = %q, %v", tok.Value, err)
	}
	msg, err := src.Logout(t.Context())
	if err != nil || !strings.Contains(msg, "Revoked at") {
		t.Fatalf("Logout = %q, %v; want the token revoked", msg, err)
	}
	for _, p := range []string{"/device", "/token", "/revoke"} {
		if idp.count(p) == 0 {
			t.Errorf("%s got no request carrying token_headers", p)
		}
	}
}

// Header names and values that cannot be sent, and the headers the plugin sets itself, are refused at
// Configure with a BadConfig naming token_headers.<name>.
func TestTokenHeadersRefused(t *testing.T) {
	base := map[string]any{"token_url": "https://idp.example/token", "client_id": "c", "client_secret": clientSecret}
	for _, c := range []struct {
		name    string
		headers map[string]any
		key     string
		says    string
	}{
		{"space in name", map[string]any{"X Tenant": "acme"}, "token_headers.X Tenant", "not a valid header name"},
		{"colon in name", map[string]any{"X-Tenant:": "acme"}, "token_headers.X-Tenant:", "not a valid header name"},
		{"newline in value", map[string]any{"X-Tenant": "acme\r\nX-Evil: 1"}, "token_headers.X-Tenant", "not a valid header value"},
		{"empty value", map[string]any{"X-Tenant": ""}, "token_headers.X-Tenant", "empty"},
		{"not a string", map[string]any{"X-Tenant": []any{"a"}}, "token_headers", ""},
		{"Authorization", map[string]any{"authorization": "Bearer x"}, "token_headers.authorization", "set by the plugin"},
		{"Content-Type", map[string]any{"Content-Type": "text/plain"}, "token_headers.Content-Type", "set by the plugin"},
		{"Host", map[string]any{"HOST": "other.example"}, "token_headers.HOST", "set by the plugin"},
		{"Content-Length", map[string]any{"Content-Length": "3"}, "token_headers.Content-Length", "set by the plugin"},
		{"unresolved indirection", map[string]any{"X-Tenant_env": "TENANT"}, "token_headers.X-Tenant_env", "unresolved"},
		{"twice", map[string]any{"X-Tenant": "a", "x-tenant": "b"}, "token_headers.x-tenant", "twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New().Configure(t.Context(), merge(base, map[string]any{"token_headers": c.headers}))
			var e *sdk.Error
			if !sdk.IsKind(err, sdk.KindBadConfig) || !errors.As(err, &e) || !strings.HasPrefix(e.Key, c.key) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Configure = %v; want BadConfig on %s saying %q", err, c.key, c.says)
			}
		})
	}
	// token_headers is an endpoint option: the grants that call no endpoint refuse it.
	if _, err := New().Configure(t.Context(), map[string]any{"grant": "static", "key_env": "K", "token_headers": tenantHeaders}); !sdk.IsKind(err, sdk.KindBadConfig) {
		t.Fatalf("static with token_headers: %v; want BadConfig", err)
	}
}

// token_headers reach the discovery document and a token exchange.
func TestTokenHeadersDiscoveryAndExchange(t *testing.T) {
	idp := newTenantIdP(t)
	src := configure(t, map[string]any{"issuer": idp.srv.URL, "client_id": "c", "client_secret": clientSecret, "token_headers": tenantHeaders})
	if tok, err := src.Token(t.Context()); err != nil || tok.Value != "at-tenant" {
		t.Fatalf("Token through discovery = %q, %v", tok.Value, err)
	}
	if idp.count("/.well-known/openid-configuration") == 0 {
		t.Error("discovery got no request carrying token_headers")
	}

	subject := filepath.Join(t.TempDir(), "subject.jwt")
	if err := os.WriteFile(subject, []byte("subject-token-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	exch := configure(t, map[string]any{"grant": grantTokenExchange, "token_url": idp.srv.URL + "/token",
		"subject_token_file": subject, "token_headers": tenantHeaders})
	if tok, err := exch.Token(t.Context()); err != nil || tok.Value != "at-tenant" {
		t.Fatalf("token exchange = %q, %v", tok.Value, err)
	}
}

// The value of a secret-named token header is never quoted, even when the endpoint echoes it back.
func TestTokenHeaderSecretRedacted(t *testing.T) {
	idp := newTenantIdP(t)
	const gwSecret = "gw-header-s3cret-4711"
	src := configure(t, map[string]any{"token_url": idp.srv.URL + "/echo", "client_id": "c", "client_secret": clientSecret,
		"token_headers": map[string]any{"X-Tenant": "acme", "X-Gateway-Secret": gwSecret}})
	_, err := src.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(err.Error(), "bad gateway secret") {
		t.Fatalf("Token = %v; want the BadConfig quoting the redacted description", err)
	}
	if strings.Contains(err.Error(), gwSecret) {
		t.Errorf("the error holds the header's secret value (%s)", sdk.Fingerprint(gwSecret))
	}
}
