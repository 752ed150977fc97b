package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

func TestZitadelClientCredentials(t *testing.T) {
	idp := newTestOP(t)
	for _, auth := range []string{authBasic, authPost} {
		t.Run(auth, func(t *testing.T) {
			src := configure(t, map[string]any{"issuer": idp.issuer, "client_id": opServiceUser,
				"client_secret": opServiceSecret, "client_auth": auth, "extra_headers": map[string]any{"x-tenant-id": "t1"}})
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value == "" || tok.Type != "Bearer" || time.Until(tok.Expiry) < time.Minute || tok.Headers["X-Tenant-Id"] != "t1" {
				t.Errorf("token type %q expiry %v headers %v", tok.Type, tok.Expiry, tok.Headers)
			}
			again, err := src.Refresh(t.Context(), tok)
			if err != nil || again.Value == tok.Value {
				t.Errorf("Refresh: same token or %v", err)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		src := configure(t, map[string]any{"issuer": idp.issuer, "client_id": opServiceUser, "client_secret": "not-" + opServiceSecret})
		_, err := src.Token(t.Context())
		if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("err = %v, want BadConfig invalid_client", err)
		}
		if strings.Contains(err.Error(), opServiceSecret) {
			t.Error("the error holds the secret")
		}
	})
}

func TestZitadelDiscoveryIssuerMismatch(t *testing.T) {
	idp := newTestOP(t)
	other := strings.Replace(idp.issuer, "127.0.0.1", "localhost", 1)
	src := configure(t, map[string]any{"issuer": other, "client_id": opServiceUser, "client_secret": opServiceSecret})
	_, err := src.Token(t.Context())
	var se *sdk.Error
	if !errors.As(err, &se) || se.Key != "issuer" || !strings.Contains(err.Error(), "not the configured") {
		t.Fatalf("err = %v, want a BadConfig on issuer about the mismatch", err)
	}
}

// showUI is a UI that records prompts and runs then for each.
type showUI struct {
	prompts []sdk.Prompt
	then    func(p sdk.Prompt)
}

func (u *showUI) Show(_ context.Context, p sdk.Prompt) error {
	u.prompts = append(u.prompts, p)
	if u.then != nil {
		u.then(p)
	}
	return nil
}

// polls is a device-flow pause that records intervals and returns at once; at poll n it runs do.
type polls struct {
	waited []time.Duration
	at     int
	do     func()
}

func (p *polls) wait(_ context.Context, d time.Duration) error {
	p.waited = append(p.waited, d)
	if len(p.waited) == p.at && p.do != nil {
		p.do()
	}
	return nil
}

func deviceOptions(idp *testOP, store string) map[string]any {
	return map[string]any{"grant": grantDeviceCode, "issuer": idp.issuer, "client_id": opDeviceClient,
		"scopes": []any{"openid", "offline_access"}, "store": store}
}

func TestZitadelDeviceCodeSignInThenRefresh(t *testing.T) {
	idp := newTestOP(t)
	store := filepath.Join(t.TempDir(), "state", "corp.json")
	p := &polls{at: 2}
	src := newSource(withWait(p.wait))
	if _, err := src.Configure(t.Context(), deviceOptions(idp, store)); err != nil {
		t.Fatal(err)
	}
	// Before any sign-in, Token says to log in.
	if _, err := src.Token(t.Context()); !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "tokenhost login") {
		t.Fatalf("Token before login: %v", err)
	}
	ui := &showUI{}
	p.do = func() { // the user approves while the plugin polls: the first poll is pending
		if err := idp.CompleteDeviceAuthorization(context.Background(), ui.prompts[0].UserCode, opAdminUser); err != nil {
			t.Error(err)
		}
	}
	res, err := src.Login(t.Context(), ui)
	if err != nil {
		t.Fatal(err)
	}
	if len(ui.prompts) != 1 || ui.prompts[0].UserCode == "" || !strings.HasPrefix(ui.prompts[0].URL, idp.issuer) || !ui.prompts[0].Open {
		t.Errorf("prompts %+v", ui.prompts)
	}
	if len(p.waited) != 2 || p.waited[0] != 5*time.Second || p.waited[1] != 5*time.Second {
		t.Errorf("waited %v, want two polls at the server's 5s interval (pending, then approved)", p.waited)
	}
	if !strings.Contains(res.Message, store) || strings.Contains(res.Message, "no refresh token") {
		t.Errorf("result %q", res.Message)
	}
	fi, err := os.Stat(store)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored sign-in: %v %v", fi, err)
	}
	first, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := readStore(t, store)
	second, err := src.Refresh(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	after := readStore(t, store)
	if second.Value == first.Value || after.RefreshToken == before.RefreshToken || after.AccessToken != second.Value {
		t.Error("Refresh did not use the stored refresh token, or did not persist the rotated one with the new access token")
	}
	// The rotated-away refresh token is dead at the server: a process still holding it must sign in again.
	if err := os.WriteFile(store, mustJSON(t, signIn{Version: storeVersion, RefreshToken: before.RefreshToken}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = src.Refresh(t.Context(), second)
	if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "tokenhost login") {
		t.Fatalf("reused refresh token: %v", err)
	}
	if strings.Contains(err.Error(), before.RefreshToken) {
		t.Error("the error holds the refresh token")
	}
}

func TestZitadelDeviceCodeSlowDownAndExpiry(t *testing.T) {
	idp := newTestOP(t)
	p := &polls{}
	src := newSource(withWait(p.wait))
	if _, err := src.Configure(t.Context(), deviceOptions(idp, filepath.Join(t.TempDir(), "s.json"))); err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	idp.slowDown = 2
	idp.mu.Unlock()
	ui := &showUI{}
	p.at, p.do = 3, func() { _ = idp.CompleteDeviceAuthorization(context.Background(), ui.prompts[0].UserCode, opAdminUser) }
	if _, err := src.Login(t.Context(), ui); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}
	if len(p.waited) != 3 || p.waited[0] != want[0] || p.waited[1] != want[1] || p.waited[2] != want[2] {
		t.Errorf("waited %v, want %v (slow_down adds 5s for good)", p.waited, want)
	}

	idp.mu.Lock()
	idp.expire = true
	idp.mu.Unlock()
	p.waited, p.do = nil, nil
	_, err := src.Login(t.Context(), &showUI{})
	if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired code: %v", err)
	}
	if len(p.waited) != 1 {
		t.Errorf("polled %d times after expired_token, want 1", len(p.waited))
	}
}

func TestZitadelPrivateKeyJWT(t *testing.T) {
	idp := newTestOP(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "client.pem")
	k := writeRSAKey(t, keyPath)
	idp.register(opJWTClient, "k1", &k.PublicKey)
	opts := map[string]any{"grant": grantDeviceCode, "issuer": idp.issuer, "client_id": opJWTClient, "client_auth": authJWT,
		"private_key_file": keyPath, "kid": "k1", "scopes": "openid offline_access", "store": filepath.Join(dir, "s.json")}
	p := &polls{}
	src := newSource(withWait(p.wait))
	if _, err := src.Configure(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	ui := &showUI{then: func(pr sdk.Prompt) {
		_ = idp.CompleteDeviceAuthorization(context.Background(), pr.UserCode, opAdminUser)
	}}
	if _, err := src.Login(t.Context(), ui); err != nil {
		t.Fatalf("device sign-in with private_key_jwt: %v", err)
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tok, err = src.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatalf("refresh with private_key_jwt: %v", err)
	}

	// A key id the server does not know is refused as a client problem.
	opts["kid"] = "unknown-kid"
	src2 := newSource(withWait(p.wait))
	if _, err := src2.Configure(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	_, err = src2.Refresh(t.Context(), tok)
	// zitadel answers invalid_grant here (not invalid_client): the message must still point at the key.
	if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "private_key_file and kid") {
		t.Fatalf("unknown kid: %v, want a refusal pointing at private_key_file and kid", err)
	}
}

func writeRSAKey(t *testing.T, path string) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, k)
	return k
}
