package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// codexFile reads the tokens of a codex auth.json.
func codexFile(t *testing.T, path string) (access, refresh string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("auth.json is not JSON (truncated?): %v", err)
	}
	return f.Tokens.AccessToken, f.Tokens.RefreshToken
}

// seedExpiredCodexAuth writes authFile with an expired access token and a new refresh token the endpoint
// accepts, and returns that refresh token.
func seedExpiredCodexAuth(t *testing.T, auth *fakes.CodexAuthServer, authFile string) string {
	t.Helper()
	seeded := newSecret(t, "rt-seeded")
	auth.SeedRefreshToken(seeded)
	expired := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(),
		fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": auth.AccountID()}})
	if err := fakes.WriteCodexAuth(authFile, expired, seeded, "", auth.AccountID(), nil); err != nil {
		t.Fatal(err)
	}
	return seeded
}

// newCodexSetup starts a codex token endpoint and writes an auth.json for it (seedExpiredCodexAuth) and a
// config with the codex provider (upstream on a closed loopback port, options plus the extra lines), and
// returns the endpoint, the file and the config.
func newCodexSetup(t *testing.T, extra ...string) (*fakes.CodexAuthServer, string, string) {
	t.Helper()
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	t.Cleanup(auth.Close)
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	seedExpiredCodexAuth(t, auth, authFile)
	text := fmt.Sprintf(`
providers:
  codex:
    plugin: codex
    upstream: http://127.0.0.1:9/v1
    options:
      auth_file: %s
      token_url: %s
`, authFile, auth.TokenURL())
	for _, line := range extra {
		text += "      " + line + "\n"
	}
	return auth, authFile, writeFile(t, dir, "tokenhost.yaml", text)
}

// The host is stopped (SIGTERM) while the plugin's refresh is in flight: the endpoint has already rotated
// the refresh token and is still answering. The host waits for the refresh to finish and be written, so
// auth.json ends up holding the new, live refresh token instead of the spent one.
func TestShutdownWaitsForRefreshInFlight(t *testing.T) {
	auth, authFile, cfg := newCodexSetup(t)
	auth.SetDelay(3 * time.Second) // the answer comes this long after the rotation
	s := startServe(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/codex/models", nil)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), hangGuard)
	defer wcancel()
	if err := auth.WaitDecided(wctx, 1); err != nil {
		t.Fatal("the refresh never reached the token endpoint")
	}
	cancel() // the client gives up: no request holds the server open, only the refresh runs
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		s.done <- nil // for the cleanup's wait
	case <-wctx.Done():
		t.Fatal("serve did not stop")
	}
	_, rt := codexFile(t, authFile)
	if !auth.Live(rt) {
		t.Fatalf("after shutdown auth.json holds a spent refresh token: the rotation in flight was lost (endpoint refreshes: %d)", auth.Refreshes())
	}
}
