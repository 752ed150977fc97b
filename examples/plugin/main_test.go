package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

const secret = "corp-client-secret-0123"

// corpService is a loopback corporate token service: a form with the client's id and secret and the
// tenant header in, {"jwt", "valid_for_minutes"} out, a new jwt every time; 401 for a wrong secret.
func corpService(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.FormValue("client_id") != "agent" || r.Header.Get("X-Corp-Tenant") != "emea" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.FormValue("client_secret") != secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		_ = json.NewEncoder(w).Encode(map[string]any{"jwt": "corp." + hex.EncodeToString(b), "valid_for_minutes": 30})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/issue"
}

func options(url string) map[string]any {
	return map[string]any{"token_url": url, "client_id": "agent", "client_secret": secret, "tenant": "emea"}
}

// The whole plugin, imports and comments aside, fits in 50 lines.
func TestFitsInFiftyLines(t *testing.T) {
	f, err := os.Open("main.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, inImport := 0, false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "import (":
			inImport = true
		case inImport:
			inImport = line != ")"
		case strings.HasPrefix(line, "//"):
		default:
			n++
		}
	}
	if n > 50 {
		t.Errorf("main.go has %d lines of Go besides imports and comments, want at most 50", n)
	}
}

func TestConformance(t *testing.T) {
	url := corpService(t)
	sdktest.Run(t, sdktest.Suite{
		New:     func() sdk.Source { return &corp{} },
		Options: options(url),
		BadOptions: map[string]map[string]any{
			"missing tenant": {"token_url": url, "client_id": "agent", "client_secret": secret},
			"unknown option": {"token_url": url, "client_id": "agent", "client_secret": secret, "tenant": "emea", "tenat": "x"},
		},
	})
}

func TestRefusedClientNeedsAPerson(t *testing.T) {
	c := &corp{}
	o := options(corpService(t))
	o["client_secret"] = "not-the-secret-value"
	if _, err := c.Configure(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	_, err := c.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindReauthRequired) || strings.Contains(err.Error(), "not-the-secret-value") {
		t.Fatalf("a refused client: %v; want ReauthRequired without the secret", err)
	}
}

// The built plugin, as a process under a real host.
func TestAsAProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a process")
	}
	bin := filepath.Join(t.TempDir(), "corp-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sdktest.RunPlugin(t, bin, options(corpService(t)))
}
