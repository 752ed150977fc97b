package codex

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
)

// env is one test's auth.json in a temporary directory and a fake token endpoint.
type env struct {
	t    *testing.T
	idp  *fakes.CodexAuthServer
	dir  string
	path string

	hookMu   sync.Mutex
	onReused func(rt string)
}

func newEnv(t *testing.T, cfg fakes.CodexAuthConfig) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.path = filepath.Join(e.dir, "auth.json")
	cfg.OnReused = func(rt string) {
		e.hookMu.Lock()
		f := e.onReused
		e.hookMu.Unlock()
		if f != nil {
			f(rt)
		}
	}
	e.idp = fakes.NewCodexAuthServer(cfg)
	t.Cleanup(e.idp.Close)
	return e
}

// setOnReused installs what runs just before the fake answers refresh_token_reused.
func (e *env) setOnReused(f func(rt string)) {
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	e.onReused = f
}

// jwt returns an access-token-like JWT for the fake's account expiring at exp (no exp claim when zero).
func (e *env) jwt(exp time.Time) string {
	c := map[string]any{fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": e.idp.AccountID()}, "jti": time.Now().String()}
	if !exp.IsZero() {
		c["exp"] = exp.Unix()
	}
	return fakes.MakeCodexJWT(c)
}

// idToken returns an id_token naming the fake's account.
func (e *env) idToken() string {
	return fakes.MakeCodexJWT(map[string]any{"email": "user@example.com", fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": e.idp.AccountID()}})
}

// seedExpired writes an auth.json holding an expired access token and a refresh token the fake accepts.
func (e *env) seedExpired(extra map[string]any) (access, refresh string) {
	e.t.Helper()
	access, refresh = e.jwt(time.Now().Add(-time.Hour)), "rt_seed_"+strings.ReplaceAll(e.t.Name(), "/", "_")
	e.idp.SeedRefreshToken(refresh)
	if err := fakes.WriteCodexAuth(e.path, access, refresh, e.idToken(), e.idp.AccountID(), extra); err != nil {
		e.t.Fatal(err)
	}
	return access, refresh
}

// write writes raw bytes as auth.json, mode 0600.
func (e *env) write(data string) {
	e.t.Helper()
	if err := os.WriteFile(e.path, []byte(data), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) options(extra map[string]any) map[string]any {
	o := map[string]any{"auth_file": e.path, "token_url": e.idp.TokenURL()}
	for k, v := range extra {
		if v == nil {
			delete(o, k)
			continue
		}
		o[k] = v
	}
	return o
}

func (e *env) source(extra map[string]any) *source {
	e.t.Helper()
	src := New().(*source)
	if _, err := src.Configure(e.t.Context(), e.options(extra)); err != nil {
		e.t.Fatalf("Configure: %v", err)
	}
	return src
}

// atPoints makes src run the given funcs at the named points of a refresh (the point* constants).
func atPoints(src *source, at map[string]func()) {
	src.probe.at = func(point string) {
		if f := at[point]; f != nil {
			f()
		}
	}
	src.sf = flight.Observed(func() { src.probe.at(pointJoined) })
}

// doc returns auth.json decoded.
func (e *env) doc() map[string]any {
	e.t.Helper()
	data, err := os.ReadFile(e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		e.t.Fatalf("auth.json is not JSON after the test: %v", err)
	}
	return m
}

// tokens returns the tokens object of auth.json.
func (e *env) tokens() map[string]any {
	e.t.Helper()
	m, _ := e.doc()["tokens"].(map[string]any)
	if m == nil {
		e.t.Fatal("auth.json has no tokens object")
	}
	return m
}

// assertNoSecrets fails if msg holds any of secrets; it never prints them.
func assertNoSecrets(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("message holds a secret (%s): %s", sdk.Fingerprint(s), sdk.RedactString(msg, secrets...))
		}
	}
}

// assertKind fails unless err has kind k and mentions every want.
func assertKind(t *testing.T, err error, k sdk.Kind, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want kind %s", k)
	}
	if got := sdk.KindOf(err); got != k {
		t.Errorf("error kind %s, want %s: %v", got, k, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err.Error(), w)
		}
	}
}

// dirEntries returns the names in dir, sorted.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
