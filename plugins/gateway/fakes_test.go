package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// The tests in this file cover what zitadel's example OP does not: non-standard answers, mTLS client
// authentication and the browser sign-in's loopback redirect, against small handlers of their own.

func TestTokenResponseMapping(t *testing.T) {
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"jwt": "home-grown", "validUntil": exp.Format(time.RFC3339)}})
	}))
	t.Cleanup(srv.Close)
	src := configure(t, map[string]any{"token_url": srv.URL, "client_id": "c", "client_secret": "s3cret-value",
		"token_response": map[string]any{"token_field": "data.jwt", "expiry_field": "data.validUntil", "expiry_format": "rfc3339"}})
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "home-grown" || !tok.Expiry.Equal(exp) {
		t.Fatalf("token %q expiry %v err %v", tok.Value, tok.Expiry, err)
	}

	for name, m := range map[string]map[string]any{
		"unknown key": {"token_feld": "x"},
		"bad format":  {"expiry_format": "weeks"},
		"no format":   {"expiry_field": "valid"},
		"empty field": {"token_field": " "},
		"wrong type":  {"token_field": []any{"a"}},
	} {
		if _, err := New().Configure(t.Context(), map[string]any{"token_url": srv.URL, "client_id": "c", "client_secret": "s3cret-value", "token_response": m}); !sdk.IsKind(err, sdk.KindBadConfig) {
			t.Errorf("%s: %v, want BadConfig", name, err)
		}
	}
}

func TestReadExpiryFormats(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		v      any
		format string
		want   time.Time
	}{
		{3600.0, expirySeconds, now.Add(time.Hour)}, {"3600", expirySeconds, now.Add(time.Hour)},
		{1_800_000_600.0, expiryUnix, time.Unix(1_800_000_600, 0)}, {"2027-01-15T08:00:00Z", expiryRFC3339, time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)},
		{nil, expirySeconds, time.Time{}},
	} {
		got, err := readExpiry(c.v, c.format, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("readExpiry(%v, %s) = %v, %v; want %v", c.v, c.format, got, err, c.want)
		}
	}
	for _, c := range []struct {
		v      any
		format string
	}{{"soon", expirySeconds}, {"yesterday", expiryRFC3339}, {true, expiryUnix}, {12.0, expiryRFC3339}} {
		if _, err := readExpiry(c.v, c.format, now); err == nil {
			t.Errorf("readExpiry(%v, %s) accepted", c.v, c.format)
		}
	}
}

// selfSigned writes a self-signed certificate and key and returns the certificate.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, k)
	return certFile, keyFile, cert
}

func TestTLSClientAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir, "client")
	want := sha256.Sum256(cert.Raw)
	var mu sync.Mutex
	var sawClientID string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || sha256.Sum256(r.TLS.PeerCertificates[0].Raw) != want {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		r.ParseForm()
		mu.Lock()
		sawClientID = r.PostForm.Get("client_id")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// RFC 8705 §3: the token is bound to the certificate.
		json.NewEncoder(w).Encode(map[string]any{"access_token": "bound-" + base64.RawURLEncoding.EncodeToString(want[:]), "expires_in": 600, "token_type": "Bearer"})
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "server.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	src := configure(t, map[string]any{"token_url": srv.URL, "client_id": "mtls-client", "client_auth": authTLS, "cert_file": certFile, "key_file": keyFile, "ca_file": caFile})
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(tok.Value, "bound-") || sawClientID != "mtls-client" {
		t.Errorf("token %q, client_id %q in the form", tok.Value, sawClientID)
	}
	if _, err := New().Configure(t.Context(), map[string]any{"token_url": srv.URL, "client_id": "c", "client_auth": authTLS, "cert_file": certFile}); !sdk.IsKind(err, sdk.KindBadConfig) {
		t.Errorf("tls_client_auth without key_file: %v", err)
	}
}

// authServer is an authorization endpoint that approves at once (redirecting to the loopback redirect URI)
// and a token endpoint that checks the code and the PKCE verifier.
type authServer struct {
	*httptest.Server
	mu        sync.Mutex
	challenge string
	redirect  string
	deny      bool
	onToken   func(redirect string) // called as a code is redeemed, with the redirect URI
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a.mu.Lock()
		a.challenge, a.redirect = q.Get("code_challenge"), q.Get("redirect_uri")
		deny := a.deny
		a.mu.Unlock()
		if q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" || q.Get("client_id") != "cli" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		to := q.Get("redirect_uri") + "?state=" + url.QueryEscape(q.Get("state"))
		if deny {
			to += "&error=access_denied"
		} else {
			to += "&code=the-code"
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		a.mu.Lock()
		ok := base64.RawURLEncoding.EncodeToString(sum[:]) == a.challenge && r.PostForm.Get("redirect_uri") == a.redirect
		onToken := a.onToken
		a.mu.Unlock()
		if onToken != nil {
			onToken(r.PostForm.Get("redirect_uri"))
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok || r.PostForm.Get("code") != "the-code" || r.PostForm.Get("grant_type") != "authorization_code" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "browser-at", "refresh_token": "browser-rt", "expires_in": 600})
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	a := newAuthServer(t)
	store := filepath.Join(t.TempDir(), "s.json")
	src := configure(t, map[string]any{"grant": grantAuthCode, "authorization_url": a.URL + "/authorize", "token_url": a.URL + "/token",
		"client_id": "cli", "scopes": "openid offline_access", "store": store})
	browser := &http.Client{}
	var visited []string
	ui := &showUI{then: func(p sdk.Prompt) {
		// A stranger's request with the wrong state is turned away and does not end the sign-in.
		u, _ := url.Parse(p.URL)
		redirect := u.Query().Get("redirect_uri")
		if resp, err := http.Get(redirect + "?state=forged&code=evil"); err == nil {
			resp.Body.Close()
			visited = append(visited, resp.Status)
		}
		resp, err := browser.Get(p.URL)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		visited = append(visited, resp.Status)
	}}
	res, err := src.Login(t.Context(), ui)
	if err != nil {
		t.Fatal(err)
	}
	if len(visited) != 2 || !strings.HasPrefix(visited[0], "400") || !strings.HasPrefix(visited[1], "200") {
		t.Errorf("loopback answers %v, want 400 for the forged state and 200 for the real redirect", visited)
	}
	u, _ := url.Parse(ui.prompts[0].URL)
	if r := u.Query().Get("redirect_uri"); !strings.HasPrefix(r, "http://127.0.0.1:") || !ui.prompts[0].Open {
		t.Errorf("redirect_uri %q", r)
	}
	if si := readStore(t, store); si.RefreshToken != "browser-rt" || si.AccessToken != "browser-at" || !strings.Contains(res.Message, store) {
		t.Errorf("stored sign-in or result wrong: %q", res.Message)
	}
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "browser-at" {
		t.Fatalf("Token after sign-in: %v", err)
	}

	a.mu.Lock()
	a.deny = true
	a.mu.Unlock()
	ui2 := &showUI{then: func(p sdk.Prompt) {
		if resp, err := browser.Get(p.URL); err == nil {
			resp.Body.Close()
		}
	}}
	if _, err := src.Login(t.Context(), ui2); !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("denied sign-in: %v", err)
	}
}

// Once the redirect with the right state arrived, the loopback port is closed: a second redirect made
// while the code is being redeemed finds nothing listening.
func TestBrowserLoopbackClosesAfterCallback(t *testing.T) {
	a := newAuthServer(t)
	var state string
	var again error
	a.onToken = func(redirect string) {
		resp, err := http.Get(redirect + "?state=" + url.QueryEscape(state) + "&code=second")
		if err == nil {
			resp.Body.Close()
			again = errors.New(resp.Status)
		}
	}
	ui := &showUI{then: func(p sdk.Prompt) {
		u, _ := url.Parse(p.URL)
		state = u.Query().Get("state")
		if resp, err := http.Get(p.URL); err == nil {
			resp.Body.Close()
		}
	}}
	src := configure(t, map[string]any{"grant": grantAuthCode, "authorization_url": a.URL + "/authorize", "token_url": a.URL + "/token",
		"client_id": "cli", "store": filepath.Join(t.TempDir(), "s.json")})
	if _, err := src.Login(t.Context(), ui); err != nil {
		t.Fatal(err)
	}
	if state == "" || again != nil {
		t.Errorf("a second redirect during the redemption was answered (%v): the loopback port is still open", again)
	}
}
