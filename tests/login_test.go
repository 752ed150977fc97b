package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// deviceConfig writes a configuration whose provider corp signs a person in by device code at idp, keeping
// the sign-in in store.
func deviceConfig(t *testing.T, idp *fakes.DeviceServer, up *fakes.Upstream, store string) string {
	t.Helper()
	return writeFile(t, "", "tokenhost-login.yaml", fmt.Sprintf(`providers:
  corp:
    plugin: gateway
    upstream: %s
    options:
      grant: device_code
      issuer: %s
      client_id: tokenhost-cli
      scopes: [openid, offline_access]
      store: %s
`, up.URL(), idp.URL(), store))
}

// TestLoginTokenLogout: `tokenhost login corp --no-browser` relays the plugin's device-code prompt and
// stores the sign-in; `tokenhost token corp` in other processes uses it, and two of them whose stored
// token expired refresh it once; `tokenhost logout corp` revokes it and forgets it.
func TestLoginTokenLogout(t *testing.T) {
	idp := fakes.NewDeviceServer("tokenhost-cli")
	up := fakes.NewUpstream(idp.Valid)
	t.Cleanup(func() { up.Close(); idp.Close() })
	dir := t.TempDir()
	store := filepath.Join(dir, "state", "corp.json")
	cfg := deviceConfig(t, idp, up, store)

	r := tokenhost(t, cfg, nil, "token", "corp")
	if r.code == 0 || !strings.Contains(r.stderr, "tokenhost login corp") {
		t.Fatalf("token before login should tell the user to run `tokenhost login corp`\n%s", r)
	}

	r = tokenhost(t, cfg, nil, "login", "corp", "--no-browser")
	if r.code != 0 {
		t.Fatalf("login failed\n%s", r)
	}
	for _, want := range []string{idp.URL() + fakes.DeviceVerify, "code: WDJB-MJHT", "Signed in", store} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("login output lacks %q\n%s", want, r)
		}
	}
	if fi, err := os.Stat(store); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored sign-in: %v %v", fi, err)
	}

	r = tokenhost(t, cfg, nil, "token", "corp")
	if r.code != 0 || !idp.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token after login is not one the server issued\n%s", r)
	}
	if idp.Refreshes() != 0 {
		t.Errorf("%d refreshes; the stored access token was still fresh", idp.Refreshes())
	}

	// The stored access token expires: two processes at once refresh it once and print the same token.
	idp.RevokeAll()
	expireStored(t, store)
	outs := tokensAtOnce(t, cfg, dir, "corp", 2, idp.Hold, idp.WaitHeld)
	if outs[0] != outs[1] || !idp.Valid(outs[0]) || idp.Refreshes() != 1 {
		t.Fatalf("%d refreshes; same token in both processes: %v; want one refresh shared by both", idp.Refreshes(), outs[0] == outs[1])
	}

	r = tokenhost(t, cfg, nil, "logout", "corp")
	if r.code != 0 || !strings.Contains(r.stdout, "Revoked at") || idp.Revoked() != 1 {
		t.Fatalf("logout did not revoke (revoked %d)\n%s", idp.Revoked(), r)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("the stored sign-in survived logout: %v", err)
	}
}

// TestLoginWithoutInteractiveSignIn: a provider whose plugin has no sign-in says so and where to look.
func TestLoginWithoutInteractiveSignIn(t *testing.T) {
	cfg := writeFile(t, "", "tokenhost-codex.yaml", fmt.Sprintf(`providers:
  chat:
    plugin: codex
    options:
      auth_file: %s
`, filepath.Join(t.TempDir(), "auth.json")))
	r := tokenhost(t, cfg, nil, "login", "chat")
	if r.code == 0 || !strings.Contains(r.stderr, "provider chat has no interactive sign-in; see docs/providers/codex.md") {
		t.Fatalf("login for a plugin without sign-in\n%s", r)
	}
}

// expireStored marks the stored access token as expired, as time would.
func expireStored(t *testing.T, store string) {
	t.Helper()
	data, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	s := string(data)
	i := strings.Index(s, `"expiry": "`)
	if i < 0 {
		t.Fatalf("the stored sign-in has no expiry field")
	}
	j := strings.Index(s[i+11:], `"`)
	s = s[:i+11] + past + s[i+11+j:]
	if err := os.WriteFile(store, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
