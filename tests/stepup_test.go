package tests

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// A 403 insufficient_scope challenge is refreshed and resent through `tokenhost serve` even for a plugin
// process built without sdk.RejectionAware (pluginv1): it gets a plain Refresh, and the caller the
// answer to the resent request with its body.
func TestStepUpThroughServeWithAnOlderPlugin(t *testing.T) {
	needBinaries(t)
	var mu sync.Mutex
	var tokens, bodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		tokens = append(tokens, r.Header.Get("Authorization"))
		bodies = append(bodies, string(b))
		if len(tokens) == 1 {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="files:write"`)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, "written")
	}))
	t.Cleanup(up.Close)
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf("providers:\n  old:\n    plugin: %s\n    upstream: %s/v1\n", bins.pluginv1, up.URL))
	s := startServe(t, cfg, nil)
	resp, err := http.Post(s.url+"/old/files", "application/json", strings.NewReader(`{"write":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || string(body) != "written" {
		t.Fatalf("through serve: %d %q, want 200 after one step-up\n%s", resp.StatusCode, body, s.stderr)
	}
	if len(tokens) != 2 || tokens[0] == tokens[1] || !strings.HasPrefix(tokens[1], "Bearer v1-") || bodies[1] != `{"write":"x"}` {
		t.Fatalf("upstream saw %d requests (tokens differ: %v, resent body %q), want the original and one resend with a new token", len(tokens), len(tokens) == 2 && tokens[0] != tokens[1], bodies)
	}
}
