package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// userAccessToken signs the admin user in by device code and returns the access token it got.
func userAccessToken(t *testing.T, idp *testOP) string {
	t.Helper()
	src := newSource(withWait((&polls{}).wait))
	if _, err := src.Configure(t.Context(), deviceOptions(idp, filepath.Join(t.TempDir(), "user.json"))); err != nil {
		t.Fatal(err)
	}
	ui := &showUI{then: func(p sdk.Prompt) { _ = idp.CompleteDeviceAuthorization(context.Background(), p.UserCode, opAdminUser) }}
	if _, err := src.Login(t.Context(), ui); err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

func TestZitadelTokenExchangeRereadsTheSubjectFile(t *testing.T) {
	idp := newTestOP(t)
	subject := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(subject, []byte(userAccessToken(t, idp)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := configure(t, map[string]any{"grant": grantTokenExchange, "issuer": idp.issuer, "client_id": opWebClient,
		"client_secret": opWebSecret, "subject_token_file": subject, "subject_token_type": "access_token",
		"requested_token_type": "access_token", "scopes": "openid"})
	first, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if first.Value == "" || first.Expiry.IsZero() {
		t.Fatalf("exchanged token without value or expiry")
	}

	// The file rotates (as a kubelet rewrites a projected token): the next exchange reads the new one.
	rotated := userAccessToken(t, idp)
	if err := os.WriteFile(subject, []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := src.Refresh(t.Context(), first)
	if err != nil || second.Value == first.Value {
		t.Fatalf("exchange after rotation: same token or %v", err)
	}

	// A subject token the server no longer accepts (here: not one it issued) is refused, naming the file.
	if err := os.WriteFile(subject, []byte("expired-or-foreign-subject-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = src.Refresh(t.Context(), second)
	if err == nil || !strings.Contains(err.Error(), subject) || strings.Contains(err.Error(), "expired-or-foreign-subject-token") {
		t.Fatalf("refused subject token: %v; want an error naming the file and not the token", err)
	}
}

func TestZitadelJWTBearer(t *testing.T) {
	idp := newTestOP(t)
	keyPath := filepath.Join(t.TempDir(), "svc.pem")
	k := writeRSAKey(t, keyPath)
	idp.register("svc-robot", "robot-1", &k.PublicKey)
	opts := map[string]any{"grant": grantJWTBearer, "issuer": idp.issuer, "private_key_file": keyPath, "kid": "robot-1",
		"assertion_iss": "svc-robot", "assertion_aud": idp.issuer, "scopes": "openid"}
	src := configure(t, opts)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value == "" {
		t.Fatal("no token")
	}

	// RFC 7523 §3: an assertion whose aud is not the server is refused.
	opts["assertion_aud"] = "https://someone-else.example"
	_, err = configure(t, opts).Token(t.Context())
	if err == nil || !strings.Contains(err.Error(), "assertion_aud") {
		t.Fatalf("wrong aud: %v", err)
	}
	// An unknown kid is refused too.
	opts["assertion_aud"], opts["kid"] = idp.issuer, "robot-2"
	if _, err := configure(t, opts).Token(t.Context()); err == nil || !strings.Contains(err.Error(), "kid") {
		t.Fatalf("unknown kid: %v", err)
	}
}

// Logout revokes the stored refresh token at the issuer's revocation endpoint (RFC 7009) and deletes the
// stored sign-in; the revoked refresh token no longer works.
func TestZitadelLogoutRevokes(t *testing.T) {
	idp := newTestOP(t)
	store := filepath.Join(t.TempDir(), "s.json")
	src := newSource(withWait((&polls{}).wait))
	if _, err := src.Configure(t.Context(), deviceOptions(idp, store)); err != nil {
		t.Fatal(err)
	}
	ui := &showUI{then: func(p sdk.Prompt) { _ = idp.CompleteDeviceAuthorization(context.Background(), p.UserCode, opAdminUser) }}
	if _, err := src.Login(t.Context(), ui); err != nil {
		t.Fatal(err)
	}
	spent := readStore(t, store)
	msg, err := src.Logout(t.Context())
	if err != nil || !strings.Contains(msg, "Revoked at") || !strings.Contains(msg, "Deleted") {
		t.Fatalf("Logout = %q, %v", msg, err)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("the stored sign-in is still there: %v", err)
	}
	if _, err := src.Token(t.Context()); !sdk.IsKind(err, sdk.KindReauthRequired) {
		t.Fatalf("Token after logout: %v", err)
	}
	// The revoked refresh token is refused by the server.
	if err := os.WriteFile(store, mustJSON(t, signIn{Version: storeVersion, RefreshToken: spent.RefreshToken}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Refresh(t.Context(), sdk.Token{Value: spent.AccessToken}); !sdk.IsKind(err, sdk.KindReauthRequired) {
		t.Fatalf("revoked refresh token: %v", err)
	}
	// Logging out twice is fine.
	os.Remove(store)
	if msg, err := src.Logout(t.Context()); err != nil || !strings.Contains(msg, "nothing to revoke") {
		t.Fatalf("second Logout = %q, %v", msg, err)
	}
}

func TestLoginNeedsASignInGrant(t *testing.T) {
	idp := newTestOP(t)
	src := configure(t, map[string]any{"issuer": idp.issuer, "client_id": opServiceUser, "client_secret": opServiceSecret})
	_, err := src.Login(t.Context(), &showUI{})
	if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(err.Error(), "device_code") {
		t.Fatalf("Login with client_credentials: %v", err)
	}
	if _, err := src.Logout(t.Context()); !sdk.IsKind(err, sdk.KindBadConfig) {
		t.Fatalf("Logout with client_credentials: %v", err)
	}
}
