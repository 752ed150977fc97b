package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// Demo values for the gemini scenario; the fake token endpoint knows them, nothing real does.
const (
	demoGeminiClientID     = "demo-gemini-client.apps.googleusercontent.com"
	demoGeminiClientSecret = "demo-gemini-secret-not-real"
	demoGeminiRefresh      = "1//demo-gemini-refresh-token-not-real"
)

// geminiScenario is a Gemini CLI sign-in (oauth_creds.json with an expired access token) in front of a fake
// Cloud Code Assist, refreshed against a fake Google token endpoint.
func geminiScenario() *scenario {
	idp := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{
		ClientID: demoGeminiClientID, ClientSecret: demoGeminiClientSecret, ExpiresIn: demoTokenLife,
	})
	idp.AddRefreshToken(demoGeminiRefresh)
	up := fakes.NewCodeAssistUpstream(idp.Valid)
	dir, dirErr := os.MkdirTemp("", "tokenhost-demo-gemini-")
	creds := filepath.Join(dir, ".gemini", "oauth_creds.json")
	return &scenario{
		name: "gemini", plugin: "gemini", path: "/v1internal:generateContent", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: gemini
    upstream: %s
    refresh_before: 1s
    options:
      source: gemini_cli
      creds_file: %q
      token_url: %s
      client_id: %s
      client_secret: %s
      refresh_window: 1s
`, up.URL(), creds, idp.TokenURL(), demoGeminiClientID, demoGeminiClientSecret),
		setup: func() error {
			if dirErr != nil {
				return dirErr
			}
			// As the Gemini CLI leaves it after a day away: the access token long expired, the refresh
			// token still good.
			return fakes.WriteGeminiCreds(creds, "ya29.demo-expired-access-token", demoGeminiRefresh,
				time.Now().Add(-24*time.Hour), nil)
		},
		body: func(i int) []byte {
			b, _ := json.Marshal(map[string]any{
				"model":          "gemini-2.5-pro",
				"project":        "demo-project",
				"user_prompt_id": fmt.Sprintf("demo-%d", i),
				"request": map[string]any{
					"contents": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": fmt.Sprintf("request %d", i)}}}},
				},
			})
			return b
		},
		revoke: idp.RevokeAll, issued: idp.Refreshes,
		close: func() {
			up.Close()
			idp.Close()
			if dirErr == nil {
				_ = os.RemoveAll(dir)
			}
		},
	}
}
