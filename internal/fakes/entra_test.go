package fakes

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	entraClient = "app-1"
	entraSecret = "entra-s3cret~value"
	entraScope  = "https://cognitiveservices.azure.com/.default"
)

func newTestEntra(t *testing.T) (*Entra, *http.Client) {
	t.Helper()
	e := NewEntra(EntraConfig{ClientID: entraClient, ClientSecret: entraSecret})
	t.Cleanup(e.Close)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(c.CloseIdleConnections)
	return e, c
}

type entraAnswer struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	RefreshIn    int64  `json:"refresh_in"`
	AccessToken  string `json:"access_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
	Codes        []int  `json:"error_codes"`
}

func postEntra(t *testing.T, c *http.Client, u string, form url.Values) (int, entraAnswer) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a entraAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("decoding the answer: %v", err)
	}
	return resp.StatusCode, a
}

func entraSecretForm(secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {entraClient}, "scope": {entraScope + " openid profile offline_access"}, "client_secret": {secret}}
}

func TestEntraTLSNeedsTheCA(t *testing.T) {
	e, _ := newTestEntra(t)
	if _, err := http.Get(e.AuthorityHost() + "/" + e.TenantID() + "/v2.0/.well-known/openid-configuration"); err == nil {
		t.Fatal("a client without the test CA trusted the fake")
	}
	p, err := e.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("CAFile wrote %q (%v)", b, err)
	}
}

func TestEntraMetadata(t *testing.T) {
	e, c := newTestEntra(t)
	resp, err := c.Get(e.AuthorityHost() + "/" + e.TenantID() + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	base := e.AuthorityHost() + "/" + e.TenantID()
	if m["token_endpoint"] != e.TokenURL() || m["issuer"] != base+"/v2.0" || m["authorization_endpoint"] != base+"/oauth2/v2.0/authorize" {
		t.Errorf("metadata %v", m)
	}
	resp, err = c.Get(e.AuthorityHost() + "/other-tenant/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tenant: %d, want 400", resp.StatusCode)
	}
}

func TestEntraToken(t *testing.T) {
	e, c := newTestEntra(t)
	e.SetRefreshIn(90 * time.Second)
	status, a := postEntra(t, c, e.TokenURL(), entraSecretForm(entraSecret))
	if status != http.StatusOK || a.TokenType != "Bearer" || a.ExpiresIn != 3599 || a.ExtExpiresIn != 3599 || a.RefreshIn != 90 || !e.Valid(a.AccessToken) {
		t.Fatalf("%d %+v", status, a)
	}
	if f := e.LastForm(); f.Has("client_secret") || f.Get("client_id") != entraClient || e.LastClientAuth() != "client_secret" {
		t.Errorf("LastForm %v, auth %q", f, e.LastClientAuth())
	}
	e.RevokeAll()
	if e.Valid(a.AccessToken) {
		t.Error("a revoked token is valid")
	}

	cases := []struct {
		name   string
		url    string
		form   url.Values
		status int
		code   int
	}{
		{"wrong secret", e.TokenURL(), entraSecretForm("nope"), 401, 7000215},
		{"unknown tenant", strings.Replace(e.TokenURL(), e.TenantID(), "contoso.onmicrosoft.com", 1), entraSecretForm(entraSecret), 400, 90002},
		{"unknown client", e.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "scope": {entraScope}, "client_secret": {entraSecret}}, 400, 700016},
		{"bad scope", e.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {entraClient}, "scope": {"https://x"}, "client_secret": {entraSecret}}, 400, 1002012},
		{"no client auth", e.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {entraClient}, "scope": {entraScope}}, 401, 7000218},
		{"malformed assertion", e.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {entraClient}, "scope": {entraScope},
			"client_assertion_type": {ClientAssertionType}, "client_assertion": {"not-a-jwt"}}, 401, 50027},
	}
	for _, k := range cases {
		status, a := postEntra(t, c, k.url, k.form)
		if status != k.status || len(a.Codes) != 1 || a.Codes[0] != k.code || !strings.HasPrefix(a.Description, "AADSTS"+strconv.Itoa(k.code)+":") {
			t.Errorf("%s: %d %+v, want %d AADSTS%d", k.name, status, a, k.status, k.code)
		}
		if strings.Contains(a.Description, entraSecret) {
			t.Errorf("%s: the description echoes the secret", k.name)
		}
	}

	e.SetSecretExpired(true)
	if status, a := postEntra(t, c, e.TokenURL(), entraSecretForm(entraSecret)); status != 401 || a.Codes[0] != 7000222 {
		t.Errorf("expired secret: %d %+v", status, a)
	}
	e.SetSecretExpired(false)
	e.SetDown(true)
	if status, _ := postEntra(t, c, e.TokenURL(), entraSecretForm(entraSecret)); status != http.StatusServiceUnavailable {
		t.Errorf("down: %d, want 503", status)
	}
	e.SetDown(false)
	if e.Requests() != int64(len(cases)+3) || e.Issued() != 1 {
		t.Errorf("%d requests, %d issued", e.Requests(), e.Issued())
	}
}

func TestEntraAssertion(t *testing.T) {
	e, c := newTestEntra(t)
	enc := base64.RawURLEncoding.EncodeToString
	assertion := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"sub":"x"}`)) + ".sig"
	status, a := postEntra(t, c, e.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {entraClient}, "scope": {entraScope},
		"client_assertion_type": {ClientAssertionType}, "client_assertion": {assertion}})
	if status != http.StatusOK || !e.Valid(a.AccessToken) {
		t.Fatalf("%d %+v", status, a)
	}
	if got := e.Assertions(); len(got) != 1 || got[0] != assertion || e.LastForm().Has("client_assertion") || e.LastClientAuth() != "client_assertion" {
		t.Errorf("assertions %d, form %v", len(got), e.LastForm())
	}
}

func TestEntraManagedIdentity(t *testing.T) {
	e, _ := newTestEntra(t)
	get := func(header string, q url.Values) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, e.ManagedIdentityEndpoint()+"?"+q.Encode(), nil)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	q := url.Values{"api-version": {ManagedIdentityAPIVersion}, "resource": {"https://cognitiveservices.azure.com"}}
	status, m := get(e.IdentityHeader(), q)
	tok, _ := m["access_token"].(string)
	exp, _ := m["expires_on"].(string)
	secs, _ := strconv.ParseInt(exp, 10, 64)
	if status != 200 || !e.Valid(tok) || m["resource"] != "https://cognitiveservices.azure.com" || m["token_type"] != "Bearer" ||
		time.Until(time.Unix(secs, 0)) < 59*time.Minute {
		t.Fatalf("%d %v", status, m)
	}
	if status, _ := get("wrong", q); status != http.StatusUnauthorized {
		t.Errorf("wrong header: %d", status)
	}
	if status, _ := get(e.IdentityHeader(), url.Values{"api-version": {"2017-09-01"}, "resource": {"r"}}); status != http.StatusBadRequest {
		t.Errorf("wrong api-version: %d", status)
	}
	e.SetManagedIdentityCaching(true)
	_, m1 := get(e.IdentityHeader(), q)
	_, m2 := get(e.IdentityHeader(), q)
	if m1["access_token"] != m2["access_token"] {
		t.Error("caching: the endpoint issued a new token")
	}
	if e.ManagedIdentityRequests() != 5 {
		t.Errorf("%d managed identity requests, want 5", e.ManagedIdentityRequests())
	}
}

func TestAzureOpenAIUpstream(t *testing.T) {
	e, c := newTestEntra(t)
	_, a := postEntra(t, c, e.TokenURL(), entraSecretForm(entraSecret))
	up := NewAzureOpenAIUpstream(e.Valid)
	defer up.Close()
	if !strings.HasSuffix(up.URL(), "/openai/v1") {
		t.Fatalf("URL %s", up.URL())
	}
	call := func(h map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, up.URL()+"/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hello there"}]}`))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if status, m := call(map[string]string{"Authorization": "Bearer " + a.AccessToken}); status != 200 || m["object"] != "chat.completion" || up.LastAuth() != "bearer" {
		t.Errorf("bearer: %d %v", status, m)
	}
	if status, _ := call(nil); status != 401 {
		t.Errorf("no credential: %d", status)
	}
	if status, _ := call(map[string]string{"api-key": "k"}); status != 401 {
		t.Errorf("api-key before SetAPIKey: %d", status)
	}
	up.SetAPIKey("k")
	if status, _ := call(map[string]string{"api-key": "k"}); status != 200 || up.LastAuth() != "api-key" {
		t.Errorf("api-key: %d", status)
	}
	up.SetPermissionDenied(true)
	if status, m := call(map[string]string{"Authorization": "Bearer " + a.AccessToken}); status != 401 || !strings.Contains(fmt.Sprint(m["error"]), "PermissionDenied") {
		t.Errorf("denied: %d %v", status, m)
	}
	e.RevokeAll()
	up.SetPermissionDenied(false)
	if status, _ := call(map[string]string{"Authorization": "Bearer " + a.AccessToken}); status != 401 {
		t.Errorf("revoked: %d", status)
	}
	if up.Rejected() != 4 || up.Requests() != 6 {
		t.Errorf("%d rejected of %d", up.Rejected(), up.Requests())
	}
}
