package tests

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// slowRefresh is how long the token endpoint of TestCodexFleetSlowTokenEndpoint takes to answer a refresh:
// longer than the hosts' fetch_timeout (1 s) and than their fetch lease's time (fetch_timeout + 1 s).
const slowRefresh = 3 * time.Second

// TestCodexFleetSlowTokenEndpoint: 2, then 8 `tokenhost serve` processes (each with its own codex plugin
// process and HOME; only the first has an auth.json) share one ChatGPT sign-in through one redis-server,
// with fetch_timeout 1 s and a token endpoint that answers each refresh after 3 s (the codex plugin's own
// timeout, 10 s, allows it). With every token rejected, every host forwards a request at once: the lease
// holder's refresh outlives its first lease time, and the hosts waiting for it neither take its lease
// over nor redeem the refresh token it is redeeming. One refresh at the identity provider, no refresh
// token presented twice, every request 200.
func TestCodexFleetSlowTokenEndpoint(t *testing.T) {
	for _, n := range []int{2, 8} {
		t.Run(fmt.Sprintf("%d hosts", n), func(t *testing.T) { slowEndpointFleet(t, n) })
	}
}

func slowEndpointFleet(t *testing.T, n int) {
	srv := redistest.Start(t)
	needBinaries(t)
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	t.Cleanup(auth.Close)
	up := fakes.NewCodexUpstream(auth.Valid, auth.AccountID())
	t.Cleanup(up.Close)
	codexHome := t.TempDir()
	seeded := newSecret(t, "rt-seeded")
	auth.SeedRefreshToken(seeded)
	expired := fakes.MakeCodexJWT(map[string]any{"exp": 1, fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": auth.AccountID()}})
	if err := fakes.WriteCodexAuth(filepath.Join(codexHome, "auth.json"), expired, seeded, "", auth.AccountID(), nil); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	cfg := writeFile(t, t.TempDir(), "tokenhost.yaml", fleetStore(srv)+fmt.Sprintf(`providers:
  codex:
    plugin: codex
    upstream: %s
    fetch_timeout: 1s
    min_refresh_interval: 0s
    options:
      token_url: %s
      timeout: 10s
      lock_timeout: 2s
      reuse_wait: 1s
`, up.URL(), auth.TokenURL()))
	var hosts []*server
	for i := range n {
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
	send := func(i int) string {
		resp, err := http.Post(hosts[i].url+"/codex/responses", "application/json", strings.NewReader(`{"model":"gpt-5-codex","input":[]}`))
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
	for i := 1; i < n; i++ { // every host has the fleet's token cached
		if msg := send(i); msg != "" {
			t.Fatalf("first request: %s", msg)
		}
	}
	if auth.Refreshes() != 1 {
		t.Fatalf("%d refreshes to seed the fleet; want 1", auth.Refreshes())
	}

	auth.SetDelay(slowRefresh)
	auth.RevokeAll()
	start := time.Now()
	fails := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fails[i] = send(i) })
	}
	wg.Wait()
	took := time.Since(start)
	for _, f := range fails {
		if f != "" {
			t.Error(f)
		}
	}
	t.Logf("%d hosts, every token rejected, a token endpoint answering after %s: all answered within %s; identity provider: %d refreshes, %d reused, %d requests",
		n, slowRefresh, took.Round(time.Millisecond), auth.Refreshes()-1, auth.Reused(), auth.Requests()-1)
	if got, reused := auth.Refreshes()-1, auth.Reused(); got != 1 || reused != 0 || auth.Requests() != 2 {
		t.Fatalf("identity provider: %d refreshes, %d reused refresh tokens, %d requests; want 1, 0 and 1", got, reused, auth.Requests()-1)
	}
}
