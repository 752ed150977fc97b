package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// signedInCorp is a device-code provider corp against a fake authorization server whose tokens name the
// person who signed in, with one token cache shared by every call of the test.
type signedInCorp struct {
	idp *fakes.DeviceServer
	cfg string
	env []string
}

func newSignedInCorp(t *testing.T) *signedInCorp {
	t.Helper()
	idp := fakes.NewDeviceServer("tokenhost-cli")
	up := fakes.NewUpstream(idp.Valid)
	t.Cleanup(func() { up.Close(); idp.Close() })
	dir := t.TempDir()
	return &signedInCorp{idp: idp, cfg: deviceConfig(t, idp, up, filepath.Join(dir, "state", "corp.json")),
		env: []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}}
}

func (s *signedInCorp) run(t *testing.T, args ...string) result {
	t.Helper()
	return tokenhost(t, s.cfg, s.env, args...)
}

// login signs user in and returns the token `tokenhost token corp` prints then, checking that a second
// call prints it again from the cache, without a refresh at the server.
func (s *signedInCorp) login(t *testing.T, user string) string {
	t.Helper()
	s.idp.SetUser(user)
	if r := s.run(t, "login", "corp", "--no-browser"); r.code != 0 {
		t.Fatalf("login as %s failed\n%s", user, r)
	}
	r := s.run(t, "token", "corp")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || s.idp.UserOf(tok) != user {
		t.Fatalf("after login as %s, token printed a token of %q\n%s", user, s.idp.UserOf(tok), r)
	}
	refreshes := s.idp.Refreshes()
	if again := s.run(t, "token", "corp"); strings.TrimSpace(again.stdout) != tok || s.idp.Refreshes() != refreshes {
		t.Fatalf("a second call did not print the cached token of %s\n%s", user, again)
	}
	return tok
}

// After `tokenhost logout corp`, `tokenhost token corp` tells the user to sign in again instead of
// printing the token it cached for the person who signed out.
func TestLogoutClearsTheTokenCache(t *testing.T) {
	s := newSignedInCorp(t)
	s.login(t, "alice")
	if r := s.run(t, "logout", "corp"); r.code != 0 {
		t.Fatalf("logout failed\n%s", r)
	}
	r := s.run(t, "token", "corp")
	if tok := strings.TrimSpace(r.stdout); r.code == 0 || s.idp.UserOf(tok) != "" || !strings.Contains(r.stderr, "tokenhost login corp") {
		t.Fatalf("after logout, token printed a token of %q instead of asking for a sign-in\n%s", s.idp.UserOf(tok), r)
	}
}

// Signing in as another person (no logout between) makes `tokenhost token corp` print the new person's
// token, not the one it cached for the person before.
func TestReLoginAsAnotherPersonGivesTheirToken(t *testing.T) {
	s := newSignedInCorp(t)
	s.login(t, "alice")
	s.login(t, "bob") // fails unless the token printed after this sign-in is bob's
}

// A script's `tokenhost token gemini` reads Application Default Credentials from the file
// GOOGLE_APPLICATION_CREDENTIALS names: when that file holds another person's sign-in, or the variable
// names another file, the next call prints a new token instead of the cached one.
func TestChangedADCFileGivesANewToken(t *testing.T) {
	needBinaries(t)
	const clientID, secret = "adc-client.apps.example", "adc-client-secret-0123"
	idp := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{ClientID: clientID, ClientSecret: secret})
	defer idp.Close()
	dir := t.TempDir()
	adc := func(name, refresh string) string {
		idp.AddRefreshToken(refresh)
		p := filepath.Join(dir, name)
		data, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": clientID, "client_secret": secret, "refresh_token": refresh})
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := adc("adc.json", "1//alice-refresh-0123456789")
	cfg := writeFile(t, dir, "tokenhost.yaml", fmt.Sprintf(`
providers:
  gemini:
    plugin: gemini
    options:
      source: adc
      token_url: %s
`, idp.TokenURL()))
	cache := "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")
	token := func(gac string) string {
		t.Helper()
		r := tokenhost(t, cfg, []string{cache, "GOOGLE_APPLICATION_CREDENTIALS=" + gac}, "token", "gemini")
		if r.code != 0 || !idp.Valid(strings.TrimSpace(r.stdout)) {
			t.Fatalf("token gemini did not print a token the endpoint issued\n%s", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	first := token(file)
	if again := token(file); again != first || idp.Issued() != 1 {
		t.Fatalf("the second call was no cache hit (%d tokens issued)", idp.Issued())
	}
	adc("adc.json", "1//bob-refresh-0123456789")
	second := token(file)
	if second == first || idp.Issued() != 2 {
		t.Fatalf("after the ADC file changed hands: same token %v, %d issued; want a new token", second == first, idp.Issued())
	}
	if third := token(adc("other-adc.json", "1//carol-refresh-0123456789")); third == second || idp.Issued() != 3 {
		t.Fatalf("after GOOGLE_APPLICATION_CREDENTIALS named another file: same token %v, %d issued", third == second, idp.Issued())
	}
}

// A script calling `tokenhost token corp` 20 times in a row follows the proxy's rule: a token is reused
// until half its life has passed (refresh_before, 5 minutes by default, is longer than these tokens), so
// the loop costs one token while it lasts less than half a token's life, and never more than one per
// half-life.
func TestTokenLoopCostsOneTokenPerHalfLife(t *testing.T) {
	for _, life := range []time.Duration{60 * time.Second, 6 * time.Second} {
		t.Run(life.String(), func(t *testing.T) {
			g := newGatewayFakes(t)
			g.idp.SetExpiresIn(life)
			cfg, env := corpConfig(t, g, "")
			env = append(env, "XDG_CACHE_HOME="+t.TempDir())
			start := time.Now()
			tokens := map[string]bool{}
			for i := range 20 {
				r := tokenhost(t, cfg, env, "token", "corp")
				if r.code != 0 {
					t.Fatalf("call %d failed\n%s", i, r)
				}
				tokens[strings.TrimSpace(r.stdout)] = true
			}
			elapsed := time.Since(start)
			// Each token after the first is fetched no earlier than half the life of the one before.
			allowed := 1 + int64(elapsed/(life/2))
			if got := g.idp.Issued(); got < 1 || got > allowed || int64(len(tokens)) != got {
				t.Fatalf("20 calls in %s cost %d tokens (%d distinct printed); the due rule allows %d", elapsed.Round(time.Millisecond), got, len(tokens), allowed)
			}
			if allowed > 1 {
				t.Logf("the loop took %s, longer than half a token's life; checked the bound of %d tokens", elapsed.Round(time.Millisecond), allowed)
			}
		})
	}
}
