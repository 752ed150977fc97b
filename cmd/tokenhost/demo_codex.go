package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// codexScenario is ChatGPT sign-in as the Codex CLI leaves it: an auth.json with rotating, single-use
// refresh tokens, and the Codex backend that wants the bearer and the ChatGPT-Account-ID header.
func codexScenario() *scenario {
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{AccessLife: demoTokenLife})
	up := fakes.NewCodexUpstream(auth.Valid, auth.AccountID())
	dir, err := os.MkdirTemp("", "tokenhost-demo-codex-")
	authFile := filepath.Join(dir, "auth.json")
	return &scenario{
		name: "codex", plugin: "codex", path: "/responses", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: codex
    upstream: %s
    refresh_before: 1s
    options:
      auth_file: %s
      token_url: %s
      refresh_window: 1s
`, up.URL(), authFile, auth.TokenURL()),
		setup: func() error {
			if err != nil {
				return err
			}
			t := auth.Issue() // as `codex login` leaves it
			return fakes.WriteCodexAuth(authFile, t.AccessToken, t.RefreshToken, t.IDToken, auth.AccountID(),
				map[string]any{"agent_identity": map[string]any{"kept": true}})
		},
		body: func(i int) []byte {
			b, _ := json.Marshal(map[string]any{"model": "gpt-5-codex", "stream": true, "input": fmt.Sprintf("request %d", i)})
			return b
		},
		revoke: auth.RevokeAll, issued: auth.Refreshes,
		close: func() { up.Close(); auth.Close(); os.RemoveAll(dir) },
	}
}
