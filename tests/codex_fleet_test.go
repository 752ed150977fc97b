package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// TestCodexFleetOneRotationPerRefresh: three `tokenhost serve` processes (each with its own codex plugin
// process and HOME; only the first has an auth.json) share one ChatGPT sign-in through one redis-server.
// Round after round the backend rejects every token and each host forwards requests at once: one refresh at
// the identity provider per round, no refresh token presented twice, every request 200 on every host, and
// the first host's auth.json follows the rotations with its other fields kept. Then the Codex CLI on the
// first host's machine refreshes on its own: the fleet goes on with its sign-in, redeeming nothing.
func TestCodexFleetOneRotationPerRefresh(t *testing.T) {
	srv := redistest.Start(t)
	needBinaries(t)
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	t.Cleanup(auth.Close)
	up := fakes.NewCodexUpstream(auth.Valid, auth.AccountID())
	t.Cleanup(up.Close)
	codexHome := t.TempDir()
	authFile := filepath.Join(codexHome, "auth.json")
	seeded := newSecret(t, "rt-seeded")
	auth.SeedRefreshToken(seeded)
	expired := fakes.MakeCodexJWT(map[string]any{"exp": 1, fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": auth.AccountID()}})
	if err := fakes.WriteCodexAuth(authFile, expired, seeded, "", auth.AccountID(),
		map[string]any{"agent_identity": map[string]any{"id": "agent-1"}}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	cfg := writeFile(t, t.TempDir(), "tokenhost.yaml", fmt.Sprintf(`store:
  backend: redis
  url: %s
  encryption_key_env: STORE_KEY
providers:
  codex:
    plugin: codex
    upstream: %s
    min_refresh_interval: 0s
    options:
      token_url: %s
`, srv.URL(), up.URL(), auth.TokenURL()))

	// A host without auth.json, before any host seeded the fleet's sign-in: the fleet mode, and the next step.
	if r := tokenhost(t, cfg, []string{"STORE_KEY=" + key}, "check"); r.code == 0 ||
		!strings.Contains(r.stdout, "the fleet's host storage") || !strings.Contains(r.stdout, "run `codex login` on a host of the fleet") {
		t.Errorf("tokenhost check on a host without auth.json:\n%s", r)
	}
	var hosts []*server
	for i := range 3 {
		dir := t.TempDir()
		env := []string{"STORE_KEY=" + key, "XDG_CACHE_HOME=" + dir + "/cache", "XDG_STATE_HOME=" + dir + "/state"}
		if i == 0 {
			env = append(env, "CODEX_HOME="+codexHome)
		}
		hosts = append(hosts, startServe(t, cfg, env))
	}
	t.Cleanup(func() { // stop every host before any startServe cleanup looks for strays (it would find the others)
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Go(func() {
				_ = h.cmd.Process.Signal(syscall.SIGTERM)
				h.done <- <-h.done
			})
		}
		wg.Wait()
	})

	client := &http.Client{}
	send := func(i int) string {
		resp, err := client.Post(hosts[i].url+"/codex/responses", "application/json", strings.NewReader(`{"model":"gpt-5-codex","input":[]}`))
		if err != nil {
			return fmt.Sprintf("host %d: %v", i, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("host %d: %d %s", i, resp.StatusCode, redact(string(b)))
		}
		return ""
	}
	if msg := send(0); msg != "" { // seeds the fleet's sign-in from auth.json, whose access token expired
		t.Fatalf("first request: %s", msg)
	}
	const rounds, perHost = 4, 3
	for r := range rounds {
		auth.RevokeAll()
		fails := make([]string, len(hosts)*perHost)
		var wg sync.WaitGroup
		for i := range fails {
			wg.Go(func() { fails[i] = send(i % len(hosts)) })
		}
		wg.Wait()
		for _, f := range fails {
			if f != "" {
				t.Fatalf("round %d: %s", r, f)
			}
		}
	}
	// A rotation by a host without auth.json (its plugin has nothing but the fleet's storage), then a last
	// one through the auth.json host, whose file must then hold the live sign-in.
	// (Host 0 first takes host 1's token: a host retries a rejected request once, so it must not meet two
	// revoked tokens in a row.)
	for _, step := range []struct {
		revoke bool
		host   int
	}{{true, 1}, {false, 0}, {true, 0}} {
		if step.revoke {
			auth.RevokeAll()
		}
		if msg := send(step.host); msg != "" {
			t.Fatalf("request through host %d alone: %s", step.host, msg)
		}
	}
	want := int64(rounds + 3)
	if n, reused := auth.Refreshes(), auth.Reused(); n != want || reused != 0 || auth.Requests() != want {
		t.Fatalf("identity provider: %d refreshes, %d reused, %d requests; want %d, 0, %d", n, reused, auth.Requests(), want, want)
	}
	access, rt := codexFile(t, authFile)
	if !auth.Live(rt) || !auth.Valid(access) || rt == seeded {
		t.Fatal("auth.json does not hold the fleet's live sign-in")
	}
	raw, err := os.ReadFile(authFile)
	var doc map[string]any
	if err != nil || json.Unmarshal(raw, &doc) != nil || doc["agent_identity"] == nil {
		t.Fatalf("auth.json lost agent_identity (or cannot be read: %v)", err)
	}
	if fi, _ := os.Stat(authFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth.json mode %v, want 0600", fi.Mode().Perm())
	}
	if dump := srv.Dump(t); strings.Contains(dump, rt) || strings.Contains(dump, access) {
		t.Fatal("Redis holds a token in clear")
	}

	// The Codex CLI on the auth.json host refreshes on its own (testdata/codexcli, the CLI's protocol),
	// spending the fleet's refresh token. When the fleet's token is rejected next, the auth.json host moves
	// the CLI's newer sign-in into storage instead of redeeming the spent one; the other hosts take it.
	refreshes := auth.Refreshes()
	cli := startBackground(t, codexHome, bins.codexcli, nil, "CODEX_HOME="+codexHome, "CODEX_REFRESH_TOKEN_URL_OVERRIDE="+auth.TokenURL()).wait(t)
	if cli.code != 0 || !strings.HasPrefix(strings.TrimSpace(cli.stdout), "stored") {
		t.Fatalf("the Codex CLI did not refresh:\n%s", cli)
	}
	_, cliRT := codexFile(t, authFile)
	auth.Revoke(access)
	for i := range hosts {
		if msg := send(i); msg != "" {
			t.Fatalf("after the Codex CLI refreshed: %s", msg)
		}
	}
	if n := auth.Refreshes() - refreshes; n != 1 || auth.Reused() != 0 || !auth.Live(cliRT) {
		t.Fatalf("after the Codex CLI refreshed: %d refreshes (want the CLI's 1), %d reused; the CLI's refresh token live: %v", n, auth.Reused(), auth.Live(cliRT))
	}
	// Redis crashes (SIGKILL; it keeps no data). While it is down nothing is redeemed: with every token
	// rejected, requests fail and the identity provider hears nothing. Back (empty), the auth.json host
	// seeds the fleet again from its file, which holds the live sign-in, and every host serves.
	srv.Stop()
	requests := auth.Requests()
	auth.RevokeAll()
	for i := range hosts {
		if msg := send(i); !strings.Contains(msg, " 503 ") || !strings.Contains(msg, "store_unavailable") || !strings.Contains(msg, "shared store") {
			t.Fatalf("host %d with every token revoked and Redis down: want 503 store_unavailable naming the store; got %q", i, msg)
		}
	}
	if n := auth.Requests() - requests; n != 0 {
		t.Fatalf("%d token requests while Redis was down; want 0 (a host must not redeem without the store)", n)
	}
	srv.Restart(t)
	guard, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	for _, h := range hosts { // each host's background probe notices within a second that Redis is back
		waitReadyAt(guard, t, h.url, `"store": "ok"`)
	}
	for i := range hosts {
		if msg := send(i); msg != "" {
			t.Fatalf("Redis back: %s", msg)
		}
	}
	if auth.Requests()-requests != 1 || auth.Reused() != 0 {
		t.Fatalf("Redis back: %d token requests (want 1), %d reused", auth.Requests()-requests, auth.Reused())
	}
	t.Logf("3 hosts, %d rounds of %d requests each: %d refreshes at the identity provider, %d reused, %d upstream 401s",
		rounds, len(hosts)*perHost, auth.Refreshes(), auth.Reused(), up.Rejected())
}
