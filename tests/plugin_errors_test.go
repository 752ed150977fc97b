package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// End to end: a corrupt auth.json makes the codex plugin process fail with
// KindInternal. Through the real `tokenhost serve`, every request — more than breaker.failures of them
// — gets 502 plugin_error with the plugin's own message, never "circuit open".
func TestCorruptAuthFileKeepsItsOwnMessageThroughServe(t *testing.T) {
	g := newGatewayFakes(t) // only its upstream is used
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(authFile, []byte(`{"tokens": {"access_token": `), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "tokenhost.yaml", fmt.Sprintf(`
providers:
  codex:
    plugin: codex
    upstream: %s
    breaker: { failures: 2, open_for: 1h }
    options:
      auth_file: %s
`, g.up.URL(), authFile))
	s := startServe(t, cfg, nil)
	for i := range 6 {
		resp, err := http.Get(s.url + "/codex/models")
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Message, Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || e.Error.Code != "plugin_error" ||
			!strings.Contains(e.Error.Message, authFile) || strings.Contains(e.Error.Message, "circuit") {
			t.Fatalf("request %d: %d %+v, want 502 plugin_error naming %s\n%s", i, resp.StatusCode, e, authFile, s.stderr)
		}
	}
	if got := g.up.Requests(); got != 0 {
		t.Fatalf("the upstream saw %d requests, want none", got)
	}
}
