package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A script calling `tokenhost token corp` 20 times in a row costs the identity provider one token: later
// calls reuse the cached one, which sits in a 0600 file in a 0700 directory under XDG_CACHE_HOME. --fresh
// asks the plugin and refreshes the cache; another configuration never reads this one's token.
func TestTokenIsCachedAcrossInvocations(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	cache := t.TempDir()
	env = append(env, "XDG_CACHE_HOME="+cache)
	first := ""
	for i := range 20 {
		r := tokenhost(t, cfg, env, "token", "corp")
		tok := strings.TrimSpace(r.stdout)
		if r.code != 0 || (i > 0 && tok != first) {
			t.Fatalf("call %d: a different token or a failure\n%s", i, r)
		}
		first = tok
	}
	if got := g.idp.Issued(); got != 1 {
		t.Fatalf("20 calls cost the identity provider %d tokens, want 1", got)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "tokenhost", "tokens", "corp-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one for corp", files)
	}
	st, _ := os.Stat(files[0])
	dir, _ := os.Stat(filepath.Dir(files[0]))
	if st.Mode().Perm() != 0o600 || dir.Mode().Perm() != 0o700 {
		t.Errorf("cache file %v, directory %v; want 0600 and 0700", st.Mode().Perm(), dir.Mode().Perm())
	}
	if data, _ := os.ReadFile(files[0]); strings.Contains(string(data), g.secret) {
		t.Error("the cache file holds the client secret")
	}

	fresh := tokenhost(t, cfg, env, "token", "corp", "--fresh")
	if tok := strings.TrimSpace(fresh.stdout); fresh.code != 0 || tok == first || g.idp.Issued() != 2 {
		t.Fatalf("--fresh: same token %v, %d issued\n%s", tok == first, g.idp.Issued(), fresh)
	}
	hdr := tokenhost(t, cfg, env, "token", "corp", "--header")
	if want := "Authorization: Bearer " + strings.TrimSpace(fresh.stdout) + "\n"; hdr.code != 0 || hdr.stdout != want {
		t.Errorf("--header after --fresh does not print the fresh token's header line\n%s", hdr)
	}
	var js struct {
		Headers map[string]string `json:"headers"`
	}
	j := tokenhost(t, cfg, env, "token", "corp", "--json")
	if json.Unmarshal([]byte(j.stdout), &js) != nil || js.Headers["Authorization"] != "Bearer "+strings.TrimSpace(fresh.stdout) {
		t.Errorf("--json has no headers object with the Authorization value\n%s", j)
	}
	if g.idp.Issued() != 2 {
		t.Errorf("--header and --json fetched tokens (%d issued), want the cached one", g.idp.Issued())
	}

	other, oenv := corpConfig(t, g, "audience: other")
	if r := tokenhost(t, other, append(oenv, "XDG_CACHE_HOME="+cache), "token", "corp"); r.code != 0 || g.idp.Issued() != 3 {
		t.Errorf("another configuration of corp reused this one's token (%d issued)\n%s", g.idp.Issued(), r)
	}
}

// With `tokenhost serve` running for the same configuration, `tokenhost token` asks it (over a 0600 Unix
// socket) instead of starting a plugin: 20 calls, each with an empty token cache of its own, cost the
// identity provider only the daemon's one token.
func TestTokenAsksARunningServe(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	run := t.TempDir()
	if err := os.Chmod(run, 0o700); err != nil {
		t.Fatal(err)
	}
	env = append(env, "XDG_RUNTIME_DIR="+run)
	startServe(t, cfg, env)
	socks, _ := filepath.Glob(filepath.Join(run, "tokenhost", "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("serve made control sockets %v, want one", socks)
	}
	if st, err := os.Stat(socks[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	first := ""
	for i := range 20 {
		// Not tokenhost(): its stray-process check would count the serve this test keeps running.
		r := startBackground(t, t.TempDir(), bins.tokenhost, []string{"token", "corp", "--config", cfg}, append(env, "XDG_CACHE_HOME="+t.TempDir())...).wait(t)
		if tok := strings.TrimSpace(r.stdout); r.code != 0 || (i > 0 && tok != first) {
			t.Fatalf("call %d:\n%s", i, r)
		} else {
			first = tok
		}
	}
	if got := g.idp.Issued(); got != 1 {
		t.Fatalf("20 calls beside a running serve cost the identity provider %d tokens, want 1", got)
	}
}

// A plugin that asks for it (codex: auth.json is its sign-in's one home) gets no second copy of its tokens
// in the token cache.
func TestTokenCacheHonoursThePluginsNoTokenCache(t *testing.T) {
	s := newCodexShare(t)
	cache := t.TempDir()
	r := startBackground(t, t.TempDir(), bins.tokenhost, []string{"token", "codex", "--config", s.cfg}, "XDG_CACHE_HOME="+cache).wait(t)
	if r.code != 0 || !s.auth.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token codex:\n%s", r)
	}
	if files, _ := filepath.Glob(filepath.Join(cache, "tokenhost", "tokens", "*")); len(files) != 0 {
		t.Fatalf("the codex token was cached: %v", files)
	}
}
