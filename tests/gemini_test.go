package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/gemini"
)

// Two real `tokenhost token gemini` processes start at once against an oauth_creds.json whose access token
// has expired: one refresh reaches Google's (fake) token endpoint, both print the same token, and the file
// keeps its refresh token and unknown fields with a new expiry_date in milliseconds.
func TestTwoGeminiProcessesOneRefresh(t *testing.T) {
	needBinaries(t)
	idp := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{ClientID: gemini.GeminiCLIClientID, ClientSecret: gemini.GeminiCLIClientSecret})
	defer idp.Close()
	const refresh = "1//gemini-refresh-0123456789"
	idp.AddRefreshToken(refresh)
	dir := t.TempDir()
	creds := filepath.Join(dir, "oauth_creds.json")
	if err := fakes.WriteGeminiCreds(creds, "ya29.expired-0123456789", refresh, time.Now().Add(-time.Hour),
		map[string]any{"custom_field": "keep-me"}); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "tokenhost.yaml", fmt.Sprintf(`
providers:
  gemini:
    plugin: gemini
    options:
      source: gemini_cli
      creds_file: %s
      token_url: %s
`, creds, idp.TokenURL()))

	outs := tokensAtOnce(t, cfg, dir, "gemini", 2, idp.Hold, idp.WaitHeld)
	if outs[0] == "" || outs[0] != outs[1] || !idp.Valid(outs[0]) {
		t.Fatal("the processes did not both print the one token the endpoint issued")
	}
	if got := idp.Requests(); got != 1 {
		t.Fatalf("token endpoint saw %d requests, want 1", got)
	}
	raw, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	exp, ok := file["expiry_date"].(float64)
	if !ok || exp != float64(int64(exp)) || time.UnixMilli(int64(exp)).Before(time.Now()) {
		t.Fatalf("expiry_date %v is not a future integer in milliseconds", file["expiry_date"])
	}
	if file["refresh_token"] != refresh || file["custom_field"] != "keep-me" || file["access_token"] != outs[0] {
		t.Fatal("the file lost its refresh token or an unknown field, or lacks the new access token")
	}
}
