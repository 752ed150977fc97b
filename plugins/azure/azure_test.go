package azure

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/conf"
	hostconfig "github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/netaddr"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

const (
	clientID     = "0f3d5c2a-7b1e-4c9a-8e2d-5a6b7c8d9e0f"
	clientSecret = "azure-s3cret~Value.With_Odd-chars"
)

// entra starts the Entra fake and writes its CA to a temporary ca_file.
func entra(t *testing.T) (*fakes.Entra, string) {
	t.Helper()
	// A regional authority would make MSAL ask IMDS for the region; keep the tests on loopback.
	t.Setenv("AZURE_REGIONAL_AUTHORITY_NAME", "")
	e := fakes.NewEntra(fakes.EntraConfig{ClientID: clientID, ClientSecret: clientSecret})
	t.Cleanup(e.Close)
	ca, err := e.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return e, ca
}

// secretOptions configures client_secret against e; a nil value in extra removes that key.
func secretOptions(e *fakes.Entra, caFile string, extra map[string]any) map[string]any {
	o := map[string]any{
		"credential":     "client_secret",
		"tenant_id":      e.TenantID(),
		"client_id":      clientID,
		"client_secret":  clientSecret,
		"authority_host": e.AuthorityHost(),
		"ca_file":        caFile,
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

// loopbackOnly is a transport that records the host of every request and refuses any that would leave
// loopback, with an error azcore does not retry.
type loopbackOnly struct {
	base  http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

type blockedError struct{ host string }

func (e blockedError) Error() string {
	return "test transport: refused a request to non-loopback host " + e.host
}
func (blockedError) NonRetriable() {}

func (l *loopbackOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.hosts = append(l.hosts, req.URL.Host)
	l.mu.Unlock()
	if !netaddr.IsLoopback(req.URL.Hostname()) {
		return nil, blockedError{req.URL.Host}
	}
	return l.base.RoundTrip(req)
}

func (l *loopbackOnly) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.hosts...)
}

// configure returns a source configured with opts whose every azidentity request goes through a
// loopbackOnly transport.
func configure(t *testing.T, opts map[string]any) (*source, *loopbackOnly) {
	t.Helper()
	guard := &loopbackOnly{}
	src := newSource(func(rt http.RoundTripper) http.RoundTripper { guard.base = rt; return guard })
	if _, err := src.Configure(t.Context(), opts); err != nil {
		t.Fatalf("Configure: %s", sdk.RedactString(err.Error(), clientSecret))
	}
	return src, guard
}

// assertNoSecret fails if msg holds a secret; it never prints one.
func assertNoSecret(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, clientSecret) {
		if strings.Contains(msg, s) {
			t.Errorf("message holds a secret (%s)", sdk.Fingerprint(s))
		}
	}
}

func TestConformance(t *testing.T) {
	e, ca := entra(t)
	good := func(extra map[string]any) map[string]any { return secretOptions(e, ca, extra) }
	sdktest.Run(t, sdktest.Suite{
		New:     New,
		Options: good(nil),
		// NoSecretInErrors treats the value of any key sdk.IsSecretKey accepts as a secret, and "credential"
		// is one of them; so a set whose message must name its credential kind (such as "client_id: is not used
		// with credential: client_secret") is checked in TestBadConfigMessages instead.
		BadOptions: map[string]map[string]any{
			"unknown option":            good(map[string]any{"tenantid": "x"}),
			"unknown credential":        good(map[string]any{"credential": "secret"}),
			"missing tenant_id":         good(map[string]any{"tenant_id": nil}),
			"missing client_id":         good(map[string]any{"client_id": nil}),
			"bad tenant_id":             good(map[string]any{"tenant_id": "not a tenant!"}),
			"http authority_host":       good(map[string]any{"authority_host": "http://login.example"}),
			"authority_host with query": good(map[string]any{"authority_host": "https://login.example/?x=1"}),
			"missing ca_file":           good(map[string]any{"ca_file": filepath.Join(t.TempDir(), "none.pem")}),
			"scope without .default":    good(map[string]any{"scope": "https://cognitiveservices.azure.com"}),
			"two scopes":                good(map[string]any{"scope": "a/.default b/.default"}),
			"resource and endpoint":     good(map[string]any{"resource": "r", "endpoint": "https://r.openai.azure.com/openai/v1"}),
			"resource is a host":        good(map[string]any{"resource": "r.openai.azure.com"}),
			"http endpoint":             good(map[string]any{"endpoint": "http://r.openai.azure.com/openai/v1"}),
			"bad timeout":               good(map[string]any{"timeout": "soon"}),
			"instance_discovery string": good(map[string]any{"instance_discovery": "no"}),
			"secret with default":       good(map[string]any{"credential": "default"}),
			"api_key with default":      {"api_key": "an-api-key-value-123"},
			"api_key without key":       {"credential": "api_key", "resource": "r"},
			"api_key of wrong type":     {"credential": "api_key", "api_key": []any{"list-s3cret-value"}},
			"federated_token_file":      {"credential": "workload_identity", "federated_token": "eyJhbGciOi.eyJzdWIiOi.sig-value"},
			"certificate without file":  {"credential": "client_certificate", "tenant_id": "t", "client_id": "c", "certificate_password": "p4ssword-value"},
		},
	})
}

func TestClientSecretOverTLSStaysOnLoopback(t *testing.T) {
	e, ca := entra(t)
	src, guard := configure(t, secretOptions(e, ca, nil))
	if src.cfg.instanceDiscovery {
		t.Fatal("instance discovery is on by default for a custom authority_host")
	}
	before := time.Now()
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !e.Valid(tok.Value) || tok.Type != "Bearer" {
		t.Errorf("token valid=%v type %q; want a valid Bearer token from the fake", e.Valid(tok.Value), tok.Type)
	}
	if tok.Expiry.Before(before.Add(fakes.DefaultEntraExpiresIn-time.Minute)) || tok.Expiry.After(time.Now().Add(fakes.DefaultEntraExpiresIn+time.Second)) {
		t.Errorf("expiry %s, want about %s from now", tok.Expiry, fakes.DefaultEntraExpiresIn)
	}
	if !tok.RefreshAt.IsZero() {
		t.Errorf("RefreshAt %s set without refresh_in", tok.RefreshAt)
	}
	f := e.LastForm()
	for k, want := range map[string]string{"grant_type": "client_credentials", "client_id": clientID} {
		if got := f.Get(k); got != want {
			t.Errorf("form %s = %q, want %q", k, got, want)
		}
	}
	if got := resourceScopes(f.Get("scope")); len(got) != 1 || got[0] != DefaultScope {
		t.Errorf("form scope %q, want %s (besides the OpenID scopes MSAL adds)", f.Get("scope"), DefaultScope)
	}
	if e.LastClientAuth() != "client_secret" {
		t.Errorf("client authentication %q, want client_secret in the form", e.LastClientAuth())
	}

	// Every request went to the fake, and only for the metadata and the token: no instance discovery.
	hosts := guard.seen()
	if len(hosts) == 0 {
		t.Fatal("the test transport saw no request: azidentity bypassed ClientOptions.Transport")
	}
	for _, h := range hosts {
		if !netaddr.IsLoopback(strings.Split(h, ":")[0]) {
			t.Errorf("a request went to %s", h)
		}
	}
	want := []string{"GET /" + e.TenantID() + "/v2.0/.well-known/openid-configuration", "POST /" + e.TenantID() + "/oauth2/v2.0/token"}
	if got := e.Log(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the fake saw %q, want %q", got, want)
	}
}

// TestInstanceDiscoveryIsWhatReachesOut is the control for the test above: with instance discovery on, the
// same configuration asks the public cloud, and the guard sees it.
func TestInstanceDiscoveryIsWhatReachesOut(t *testing.T) {
	e, ca := entra(t)
	src, guard := configure(t, secretOptions(e, ca, map[string]any{"instance_discovery": true}))
	_, err := src.Token(t.Context())
	if err == nil {
		t.Fatal("Token succeeded although instance discovery could not reach login.microsoftonline.com")
	}
	found := false
	for _, h := range guard.seen() {
		if strings.HasPrefix(h, "login.microsoftonline.com") {
			found = true
		}
	}
	if !found {
		t.Errorf("no request to login.microsoftonline.com was attempted (saw %q)", guard.seen())
	}
	if !strings.Contains(err.Error(), "instance_discovery: false") {
		t.Errorf("error %q does not suggest instance_discovery: false", err)
	}
	assertNoSecret(t, err.Error())
}

func TestUntrustedCertificateNamesCAFile(t *testing.T) {
	e, ca := entra(t)
	src, _ := configure(t, secretOptions(e, ca, map[string]any{"ca_file": nil}))
	_, err := src.Token(t.Context())
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != "ca_file" || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("got %v, want BadConfig for ca_file saying the certificate is not trusted", err)
	}
	if e.Requests() != 0 {
		t.Errorf("%d token requests reached the fake over an untrusted connection", e.Requests())
	}
}

func TestEntraErrors(t *testing.T) {
	e, ca := entra(t)
	wrong := "wrong-" + clientSecret
	cases := []struct {
		name     string
		extra    map[string]any
		expired  bool
		key      string
		wantText []string
	}{
		{"wrong secret", map[string]any{"client_secret": wrong}, false, "client_secret",
			[]string{"AADSTS7000215", "invalid client secret", "Value (not its Secret ID)", "Certificates & secrets", clientID}},
		{"expired secret", nil, true, "client_secret",
			[]string{"AADSTS7000222", "expired", "New client secret"}},
		{"unknown tenant", map[string]any{"tenant_id": "contoso.onmicrosoft.com"}, false, "tenant_id",
			[]string{"AADSTS90002", "tenant not found", "check tenant_id"}},
		{"unknown client", map[string]any{"client_id": "11111111-2222-3333-4444-555555555555"}, false, "client_id",
			[]string{"AADSTS700016", "application not found", "check client_id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.SetSecretExpired(c.expired)
			defer e.SetSecretExpired(false)
			src, _ := configure(t, secretOptions(e, ca, c.extra))
			_, err := src.Token(t.Context())
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != c.key {
				t.Fatalf("got %s, want BadConfig for %s", sdk.RedactString(fmt.Sprint(err), wrong, clientSecret), c.key)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, c.key+": ") {
				t.Errorf("%q does not start with the key", msg)
			}
			for _, w := range c.wantText {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not mention %q", msg, w)
				}
			}
			assertNoSecret(t, msg, wrong)
			if strings.Contains(msg, "Trace ID") || strings.Contains(msg, "error_description") {
				t.Errorf("message quotes the response body: %q", msg)
			}
		})
	}
}

func TestEntraDownIsUnavailable(t *testing.T) {
	e, ca := entra(t)
	e.SetDown(true)
	src, _ := configure(t, secretOptions(e, ca, nil))
	_, err := src.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Fatalf("got %v (kind %s), want Unavailable", err, sdk.KindOf(err))
	}
	e.SetDown(false)
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

func TestRefreshAfterRejectionIsANewToken(t *testing.T) {
	e, ca := entra(t)
	src, _ := configure(t, secretOptions(e, ca, nil))
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := src.Token(t.Context()); b.Value != a.Value || e.Issued() != 1 {
		t.Fatalf("a second Token was not served from the cache (%d issued)", e.Issued())
	}
	e.Revoke(a.Value) // the upstream answers 401 from now on
	b, err := src.Refresh(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if b.Value == a.Value || !e.Valid(b.Value) {
		t.Fatal("Refresh after a rejection did not return a new valid token")
	}
	if e.Issued() != 2 {
		t.Errorf("%d tokens issued, want 2", e.Issued())
	}
	if c, _ := src.Token(t.Context()); c.Value != b.Value {
		t.Error("Token after Refresh does not return the new token")
	}
	// The rejected token again: the newer cached token, no request.
	if c, err := src.Refresh(t.Context(), a); err != nil || c.Value != b.Value || e.Issued() != 2 {
		t.Errorf("second Refresh of the same rejected token: err %v, cached %v, %d issued", err, c.Value == b.Value, e.Issued())
	}
	// Refreshing the current token (refresh-ahead) gets yet another one.
	if c, err := src.Refresh(t.Context(), b); err != nil || c.Value == b.Value || e.Issued() != 3 {
		t.Errorf("Refresh of the current token: err %v, new %v, %d issued", err, c.Value != b.Value, e.Issued())
	}

	// Concurrent refreshes of one rejected token share one request.
	cur, _ := src.Token(t.Context())
	issued := e.Issued()
	var wg sync.WaitGroup
	vals := make([]string, 20)
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := src.Refresh(t.Context(), cur)
			if err != nil {
				t.Error(err)
			}
			vals[i] = tok.Value
		}()
	}
	wg.Wait()
	for _, v := range vals {
		if v == cur.Value || v != vals[0] {
			t.Fatal("concurrent refreshes returned the rejected token or different tokens")
		}
	}
	if got := e.Issued() - issued; got != 1 {
		t.Errorf("20 concurrent refreshes issued %d tokens, want 1", got)
	}
}

func TestRefreshInSetsRefreshAt(t *testing.T) {
	e, ca := entra(t)
	e.SetRefreshIn(30 * time.Minute)
	src, _ := configure(t, secretOptions(e, ca, nil))
	before := time.Now()
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshAt.Before(before.Add(30*time.Minute-time.Second)) || tok.RefreshAt.After(time.Now().Add(30*time.Minute+time.Second)) {
		t.Errorf("RefreshAt %s, want 30m from now (refresh_in)", tok.RefreshAt)
	}
	if !tok.RefreshAt.Before(tok.Expiry) {
		t.Errorf("RefreshAt %s is not before Expiry %s", tok.RefreshAt, tok.Expiry)
	}
	// Past RefreshAt the plugin's cache does not serve the token.
	if !fresh(tok) {
		t.Error("a token before its RefreshAt is not fresh")
	}
	tok.RefreshAt = time.Now().Add(-time.Second)
	if fresh(tok) {
		t.Error("a token past its RefreshAt is still fresh")
	}
}

// resourceScopes returns the scopes in a space-separated list other than the OpenID ones MSAL always adds.
func resourceScopes(list string) []string {
	var out []string
	for _, s := range strings.Fields(list) {
		if s != "openid" && s != "profile" && s != "offline_access" {
			out = append(out, s)
		}
	}
	return out
}

// jwt returns an unsigned JWT-shaped assertion whose payload names n.
func jwt(n string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`)) + "." +
		enc([]byte(`{"iss":"https://oidc.example","sub":"system:serviceaccount:ai:agent","aud":"api://AzureADTokenExchange","n":"`+n+`"}`)) + "." +
		enc([]byte("signature-"+n))
}

func TestWorkloadIdentityRereadsTheTokenFile(t *testing.T) {
	e, ca := entra(t)
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(jwt("first")), 0o600); err != nil {
		t.Fatal(err)
	}
	src, _ := configure(t, map[string]any{
		"credential": "workload_identity", "tenant_id": e.TenantID(), "client_id": clientID,
		"federated_token_path": file, "authority_host": e.AuthorityHost(), "ca_file": ca,
	})
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	as := e.Assertions()
	if len(as) != 1 || as[0] != jwt("first") {
		t.Fatalf("the fake saw %d assertions; want the file's first token", len(as))
	}
	if f := e.LastForm(); f.Get("client_assertion_type") != fakes.ClientAssertionType || f.Get("client_id") != clientID || len(resourceScopes(f.Get("scope"))) != 1 {
		t.Errorf("form %v lacks the assertion type, client_id or scope", f)
	}

	// Kubernetes rotates the projected token; the refresh must send the new one.
	if err := os.WriteFile(file, []byte(jwt("second")), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := src.Refresh(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	as = e.Assertions()
	if b.Value == a.Value || len(as) != 2 || as[1] != jwt("second") {
		t.Fatalf("after the file changed: new token %v, %d assertions, last is the new file content %v",
			b.Value != a.Value, len(as), len(as) == 2 && as[1] == jwt("second"))
	}
}

func TestWorkloadIdentityFromEnvironment(t *testing.T) {
	e, ca := entra(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(jwt("env")), 0o600); err != nil {
		t.Fatal(err)
	}
	// What the Azure workload identity webhook puts in a pod.
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", file)
	t.Setenv("AZURE_CLIENT_ID", clientID)
	t.Setenv("AZURE_TENANT_ID", e.TenantID())
	t.Setenv("AZURE_AUTHORITY_HOST", e.AuthorityHost())
	src, guard := configure(t, map[string]any{"credential": "workload_identity", "ca_file": ca})
	if src.cfg.instanceDiscovery {
		t.Error("instance discovery is on for a custom AZURE_AUTHORITY_HOST")
	}
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if as := e.Assertions(); len(as) != 1 || as[0] != jwt("env") {
		t.Error("the fake did not see the token file's assertion")
	}
	for _, h := range guard.seen() {
		if !netaddr.IsLoopback(strings.Split(h, ":")[0]) {
			t.Errorf("a request went to %s", h)
		}
	}

	t.Setenv("AZURE_TENANT_ID", "")
	_, err := New().Configure(t.Context(), map[string]any{"credential": "workload_identity", "ca_file": ca})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Key != "tenant_id" || !strings.Contains(err.Error(), "AZURE_TENANT_ID") {
		t.Errorf("without a tenant: %v, want BadConfig for tenant_id naming AZURE_TENANT_ID", err)
	}
}

// managedIdentityEnv points azidentity at the fake's App Service style endpoint.
func managedIdentityEnv(t *testing.T, e *fakes.Entra) {
	t.Setenv("IDENTITY_ENDPOINT", e.ManagedIdentityEndpoint())
	t.Setenv("IDENTITY_HEADER", e.IdentityHeader())
	for _, v := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(v, "")
	}
}

// uniqueScope returns a scope no other test uses: MSAL caches managed identity tokens process-wide, per
// resource.
func uniqueScope(t *testing.T) (scope, resource string) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	resource = "https://mi-" + hex.EncodeToString(b[:]) + ".example"
	return resource + "/.default", resource
}

func TestManagedIdentity(t *testing.T) {
	e, _ := entra(t)
	managedIdentityEnv(t, e)
	scope, resource := uniqueScope(t)
	src, guard := configure(t, map[string]any{"credential": "managed_identity", "scope": scope})
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !e.Valid(a.Value) || a.Expiry.Before(time.Now().Add(time.Hour-time.Minute)) {
		t.Fatalf("token valid=%v expiry %s; want a valid token for about an hour", e.Valid(a.Value), a.Expiry)
	}
	q, headerOK := e.LastManagedIdentityRequest()
	if !headerOK || q.Get("api-version") != fakes.ManagedIdentityAPIVersion || q.Get("resource") != resource || q.Has("client_id") {
		t.Errorf("managed identity request: header ok %v, query %v; want api-version %s, resource %s, no client_id",
			headerOK, q, fakes.ManagedIdentityAPIVersion, resource)
	}
	if len(guard.seen()) == 0 {
		t.Error("the managed identity request did not go through the plugin's transport")
	}

	// MSAL caches managed identity tokens process-wide: a refresh must still get a new one.
	b, err := src.Refresh(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if b.Value == a.Value || !e.Valid(b.Value) || e.ManagedIdentityRequests() != 2 {
		t.Fatalf("Refresh: new %v, valid %v, %d requests; want a new valid token from a second request",
			b.Value != a.Value, e.Valid(b.Value), e.ManagedIdentityRequests())
	}
	if c, _ := src.Token(t.Context()); c.Value != b.Value {
		t.Error("Token after Refresh does not return the new token")
	}
}

func TestManagedIdentityUserAssigned(t *testing.T) {
	e, _ := entra(t)
	managedIdentityEnv(t, e)
	scope, _ := uniqueScope(t)
	src, _ := configure(t, map[string]any{"credential": "managed_identity", "scope": scope, "client_id": clientID})
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if q, _ := e.LastManagedIdentityRequest(); q.Get("client_id") != clientID {
		t.Errorf("client_id %q in the request, want %q", q.Get("client_id"), clientID)
	}
	scope, _ = uniqueScope(t)
	src, _ = configure(t, map[string]any{"credential": "managed_identity", "scope": scope, "client_id": "99999999-2222-3333-4444-555555555555"})
	_, err := src.Token(t.Context())
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != "client_id" {
		t.Errorf("unassigned identity: %v, want BadConfig for client_id", err)
	}
}

// TestRefreshNeverReturnsTheRejectedToken: an endpoint that caches (App Service does) hands back the token
// that was just rejected; Refresh must fail clearly instead of returning it.
func TestRefreshNeverReturnsTheRejectedToken(t *testing.T) {
	e, _ := entra(t)
	managedIdentityEnv(t, e)
	e.SetManagedIdentityCaching(true)
	scope, _ := uniqueScope(t)
	src, _ := configure(t, map[string]any{"credential": "managed_identity", "scope": scope})
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Refresh(t.Context(), a)
	if err == nil {
		t.Fatalf("Refresh returned a token (the same one: %v) although the endpoint only had the rejected one", b.Value == a.Value)
	}
	if e.ManagedIdentityRequests() != 2 {
		t.Errorf("%d managed identity requests, want 2: Refresh must ask the endpoint, not MSAL's cache", e.ManagedIdentityRequests())
	}
	msg := err.Error()
	if !strings.Contains(msg, "the very token") || !strings.Contains(msg, "Cognitive Services OpenAI User") {
		t.Errorf("error %q does not say the same token came back or name the role", msg)
	}
	if strings.Contains(msg, a.Value) {
		t.Error("the error holds the token")
	}
}

func TestAPIKey(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	src := New()
	info, err := src.Configure(t.Context(), map[string]any{"credential": "api_key", "api_key": key, "resource": "my-openai"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Header != "api-key" || info.Scheme != "" || info.Upstream != "https://my-openai.openai.azure.com/openai/v1" ||
		len(info.AllowedHosts) != 1 || info.AllowedHosts[0] != "my-openai.openai.azure.com" || !strings.Contains(info.Mode, "api_key") {
		t.Errorf("Info %+v", info)
	}
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != key || !tok.Expiry.IsZero() {
		t.Fatalf("Token: err %v, is the key %v, expiry %s", err, tok.Value == key, tok.Expiry)
	}
	_, err = src.Refresh(t.Context(), tok)
	if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "rotate") {
		t.Fatalf("Refresh of the key: %v, want ReauthRequired telling to rotate the key", err)
	}
	assertNoSecret(t, err.Error(), key)

	// The upstream takes the key in api-key, with no Authorization header.
	up := fakes.NewAzureOpenAIUpstream(nil)
	defer up.Close()
	up.SetAPIKey(key)
	post := func(header, value string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, up.URL()+"/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(info.Header, info.Scheme+tok.Value); got != http.StatusOK || up.LastAuth() != "api-key" {
		t.Errorf("with the api-key header: %d via %q, want 200 via api-key", got, up.LastAuth())
	}
	if got := post("", ""); got != http.StatusUnauthorized {
		t.Errorf("with no credential: %d, want 401", got)
	}
	if got := post("api-key", "wrong"); got != http.StatusUnauthorized {
		t.Errorf("with a wrong key: %d, want 401", got)
	}
}

func TestInfo(t *testing.T) {
	e, ca := entra(t)
	info, err := New().Configure(t.Context(), secretOptions(e, ca, map[string]any{"endpoint": "https://llm.corp.example:8443/openai/v1/"}))
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != Name || info.Version != Version || info.Upstream != "https://llm.corp.example:8443/openai/v1" ||
		len(info.AllowedHosts) != 1 || info.AllowedHosts[0] != "llm.corp.example:8443" || info.Header != "" ||
		!strings.Contains(info.Mode, "client_secret") || !strings.Contains(info.Mode, e.TenantID()) {
		t.Errorf("Info %+v", info)
	}
	info, err = New().Configure(t.Context(), secretOptions(e, ca, nil))
	if err != nil || info.Upstream != "" || len(info.AllowedHosts) != 0 {
		t.Errorf("without resource or endpoint: Info %+v, err %v; want no upstream default", info, err)
	}
}

func TestInstanceDiscoveryDefaults(t *testing.T) {
	t.Setenv("AZURE_AUTHORITY_HOST", "")
	for _, c := range []struct {
		host string
		want bool
	}{
		{"", true}, {"https://login.microsoftonline.com/", true}, {"china", true}, {"government", true},
		{"https://login.microsoftonline.us", true}, {"https://login.corp.example/", false}, {"https://127.0.0.1:8443", false},
	} {
		opts := map[string]any{"credential": "client_secret", "tenant_id": "t", "client_id": "c", "client_secret": "s"}
		if c.host != "" {
			opts["authority_host"] = c.host
		}
		src := &source{}
		if _, err := src.Configure(t.Context(), opts); err != nil {
			t.Fatalf("%q: %v", c.host, err)
		}
		if src.cfg.instanceDiscovery != c.want {
			t.Errorf("authority_host %q: instance discovery %v, want %v", c.host, src.cfg.instanceDiscovery, c.want)
		}
	}
}

func TestBadConfigMessages(t *testing.T) {
	cases := []struct {
		name string
		opts map[string]any
		key  string
		want []string
	}{
		{"secret ignored by default", map[string]any{"client_secret": "zzz-other-secret"}, "client_secret", []string{"credential: client_secret"}},
		{"unknown credential", map[string]any{"credential": "secret"}, "credential", []string{"client_secret", "managed_identity"}},
		{"typo", map[string]any{"tenantid": "x"}, "tenantid", []string{`did you mean "tenant_id"?`}},
		{"federated token via _file", map[string]any{"credential": "workload_identity", "federated_token": "zzz-other-secret"}, "federated_token", []string{"federated_token_path"}},
		{"client_id with default", map[string]any{"client_id": "c"}, "client_id", []string{"AZURE_CLIENT_ID"}},
		{"tenant with managed identity", map[string]any{"credential": "managed_identity", "tenant_id": "t"}, "tenant_id", []string{"own tenant"}},
		{"missing secret", map[string]any{"credential": "client_secret", "tenant_id": "t", "client_id": "c"}, "client_secret", []string{"client_secret_env"}},
		{"http authority", map[string]any{"authority_host": "http://login.corp.example"}, "authority_host", []string{"https"}},
		{"scope", map[string]any{"scope": "https://cognitiveservices.azure.com"}, "scope", []string{"/.default"}},
		{"api key with spaces", map[string]any{"credential": "api_key", "api_key": "zzz-other secret"}, "api_key", []string{"spaces"}},
		{"unreadable certificate", map[string]any{"credential": "client_certificate", "tenant_id": "t", "client_id": "c", "certificate_file": "/nonexistent/cert.pem"}, "certificate_file", []string{"no such file"}},
		{"certificate of another user's home", map[string]any{"credential": "client_certificate", "tenant_id": "t", "client_id": "c", "certificate_file": "~bob/cert.pem"}, "certificate_file", []string{"only a leading ~/ is expanded, not ~bob"}},
		{"ca_file of another user's home", map[string]any{"ca_file": "~bob/ca.pem"}, "ca_file", []string{"only a leading ~/ is expanded, not ~bob"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New().Configure(t.Context(), c.opts)
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != c.key {
				t.Fatalf("got %v, want BadConfig for %q", err, c.key)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
			assertNoSecret(t, err.Error(), "zzz-other-secret", "zzz-other secret")
		})
	}
}

// writeCertificate writes a self-signed certificate and its key as one PEM file.
func writeCertificate(t *testing.T) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "tokenhost-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	p := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientCertificate(t *testing.T) {
	e, ca := entra(t)
	src, _ := configure(t, map[string]any{
		"credential": "client_certificate", "tenant_id": e.TenantID(), "client_id": clientID,
		"certificate_file": writeCertificate(t), "authority_host": e.AuthorityHost(), "ca_file": ca,
	})
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	as := e.Assertions()
	if !e.Valid(tok.Value) || e.LastClientAuth() != "client_assertion" || len(as) != 1 {
		t.Fatalf("valid %v, client auth %q, %d assertions; want a certificate-signed assertion", e.Valid(tok.Value), e.LastClientAuth(), len(as))
	}
	head, err := base64.RawURLEncoding.DecodeString(strings.Split(as[0], ".")[0])
	var h map[string]any
	if err != nil || json.Unmarshal(head, &h) != nil || (h["x5t"] == nil && h["x5t#S256"] == nil) {
		t.Errorf("assertion header %s names no certificate thumbprint", head)
	}
}

func TestDefaultChain(t *testing.T) {
	e, ca := entra(t)
	// Only the environment credential, so the test touches neither IMDS nor an installed az.
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
	for _, v := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_AUTHORITY_HOST"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	src, _ := configure(t, map[string]any{"authority_host": e.AuthorityHost(), "ca_file": ca})
	_, err := src.Token(t.Context())
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != "credential" ||
		!strings.Contains(err.Error(), "az login") || !strings.Contains(err.Error(), "AZURE_CLIENT_ID") || !strings.Contains(err.Error(), "EnvironmentCredential") {
		t.Fatalf("empty environment: %v, want BadConfig for credential with the next steps and what was tried", err)
	}

	t.Setenv("AZURE_TENANT_ID", e.TenantID())
	t.Setenv("AZURE_CLIENT_ID", clientID)
	t.Setenv("AZURE_CLIENT_SECRET", clientSecret)
	src, _ = configure(t, map[string]any{"authority_host": e.AuthorityHost(), "ca_file": ca})
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(sdk.RedactString(err.Error(), clientSecret))
	}
	b, err := src.Refresh(t.Context(), a)
	if err != nil || b.Value == a.Value || !e.Valid(b.Value) {
		t.Fatalf("Refresh through the default chain: err %v, new %v", err, b.Value != a.Value)
	}

	wrong := "wrong-" + clientSecret
	t.Setenv("AZURE_CLIENT_SECRET", wrong)
	src, _ = configure(t, map[string]any{"authority_host": e.AuthorityHost(), "ca_file": ca})
	_, err = src.Token(t.Context())
	if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != "credential" ||
		!strings.Contains(err.Error(), "AADSTS7000215") || !strings.Contains(err.Error(), "AZURE_CLIENT_SECRET") {
		t.Errorf("wrong secret in the environment: %s, want BadConfig for credential naming AZURE_CLIENT_SECRET", sdk.RedactString(fmt.Sprint(err), wrong, clientSecret))
	}
	if err != nil {
		assertNoSecret(t, err.Error(), wrong)
	}
}

// fakeAz installs an az on PATH that runs script (a /bin/sh body).
func fakeAz(t *testing.T, script string) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake az is a shell script")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("FAKE_AZ_DIR", dir)
}

func TestAzureCLI(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	// Each call prints a new token: az-token-1, az-token-2, ...
	fakeAz(t, fmt.Sprintf(`n=0; [ -f "$FAKE_AZ_DIR/n" ] && read n < "$FAKE_AZ_DIR/n"; n=$((n+1)); echo $n > "$FAKE_AZ_DIR/n"
echo "{\"accessToken\":\"az-token-$n\",\"expires_on\":%d,\"tokenType\":\"Bearer\"}"
`, exp))
	src, _ := configure(t, map[string]any{"credential": "azure_cli", "tenant_id": "contoso.onmicrosoft.com"})
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a.Value != "az-token-1" || a.Expiry.Unix() != exp {
		t.Fatalf("token %s expiry %s, want az-token-1 expiring at %d", sdk.Fingerprint(a.Value), a.Expiry, exp)
	}
	b, err := src.Refresh(t.Context(), a)
	if err != nil || b.Value != "az-token-2" {
		t.Fatalf("Refresh: %v, token %s; want az-token-2", err, sdk.Fingerprint(b.Value))
	}
}

func TestAzureCLIErrors(t *testing.T) {
	t.Run("not signed in", func(t *testing.T) {
		fakeAz(t, `echo "ERROR: Please run 'az login' to setup account." >&2; exit 1`)
		src, _ := configure(t, map[string]any{"credential": "azure_cli"})
		_, err := src.Token(t.Context())
		if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "az login") {
			t.Errorf("got %v, want ReauthRequired telling to run az login", err)
		}
	})
	t.Run("same token", func(t *testing.T) {
		fakeAz(t, fmt.Sprintf(`echo '{"accessToken":"az-cached","expires_on":%d}'`, time.Now().Add(time.Hour).Unix()))
		src, _ := configure(t, map[string]any{"credential": "azure_cli"})
		a, err := src.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Refresh(t.Context(), a)
		if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "az login") || !strings.Contains(err.Error(), "the very token") {
			t.Errorf("got %v, want ReauthRequired saying az returned the rejected token", err)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("uses /bin/sh")
		}
		t.Setenv("PATH", t.TempDir())
		src, _ := configure(t, map[string]any{"credential": "azure_cli"})
		_, err := src.Token(t.Context())
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || !strings.Contains(err.Error(), "not installed") {
			t.Errorf("got %v, want BadConfig saying az is not installed", err)
		}
	})
}

func TestCancelledRefreshReturnsPromptly(t *testing.T) {
	e, ca := entra(t)
	src, _ := configure(t, secretOptions(e, ca, nil))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := src.Refresh(ctx, sdk.Token{Value: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh with a cancelled context: %v", err)
	}
}

// TestExampleConfigures checks that every provider in conf/azure.example.yaml configures the plugin.
func TestExampleConfigures(t *testing.T) {
	data, err := fs.ReadFile(conf.Examples, "azure.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := hostconfig.Parse(data, "azure.example.yaml", hostconfig.Sources{Builtins: []string{Name}, Dir: t.TempDir(), Environ: []string{"HOME=" + t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(token, []byte(jwt("example")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", token)
	t.Setenv("AZURE_CLIENT_ID", clientID)
	t.Setenv("AZURE_TENANT_ID", fakes.DefaultEntraTenant)
	t.Setenv("AZURE_AUTHORITY_HOST", "")
	n := 0
	for _, name := range cfg.Names() {
		p := cfg.Provider(name)
		if p.Plugin != Name {
			continue
		}
		n++
		info, err := New().Configure(t.Context(), p.Options)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.Upstream == "" {
			t.Errorf("%s: no upstream from resource or endpoint", name)
		}
	}
	if n == 0 {
		t.Error("the example has no azure provider")
	}
}
