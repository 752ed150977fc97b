package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// Two real `tokenhost token codex` processes start at once against an auth.json whose access token has
// expired: the cross-process lock lets exactly one refresh reach the endpoint, both print the same new
// token, and the file ends up holding the rotated refresh token with its other fields intact.
func TestTwoCodexProcessesOneRefresh(t *testing.T) {
	needBinaries(t)
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	defer auth.Close()
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	const oldRefresh = "rt-seeded-0123456789"
	auth.SeedRefreshToken(oldRefresh)
	expired := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(),
		fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": auth.AccountID()}})
	if err := fakes.WriteCodexAuth(authFile, expired, oldRefresh, "", auth.AccountID(),
		map[string]any{"agent_identity": map[string]any{"id": "keep-me"}}); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "tokenhost.yaml", fmt.Sprintf(`
providers:
  codex:
    plugin: codex
    options:
      auth_file: %s
      token_url: %s
`, authFile, auth.TokenURL()))

	outs := tokensAtOnce(t, cfg, dir, "codex", 2, auth.Hold, auth.WaitHeld)
	tok0, tok1 := outs[0], outs[1]
	if tok0 == "" || tok0 != tok1 {
		t.Fatal("the two processes printed different tokens")
	}
	if !auth.Valid(tok0) {
		t.Fatal("the printed token is not one the endpoint issued")
	}
	if got := auth.Requests(); got != 1 {
		t.Fatalf("token endpoint saw %d requests, want exactly 1", got)
	}
	raw, err := os.ReadFile(authFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		} `json:"tokens"`
		AgentIdentity map[string]any `json:"agent_identity"`
		APIKey        *string        `json:"OPENAI_API_KEY"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("auth.json after refresh is not JSON: %v", err)
	}
	if file.Tokens.AccessToken != tok0 || file.Tokens.RefreshToken == oldRefresh || file.Tokens.RefreshToken == "" {
		t.Fatal("auth.json does not hold the new access token and the rotated refresh token")
	}
	if file.AgentIdentity["id"] != "keep-me" || file.APIKey != nil {
		t.Fatal("fields the plugin does not own were changed")
	}
	if fi, _ := os.Stat(authFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth.json mode %v, want 0600", fi.Mode().Perm())
	}
}
