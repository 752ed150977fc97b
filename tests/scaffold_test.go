package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goCmd runs the go command in dir with this test's own environment (its module and build caches), and
// fails the test when it fails.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, redact(string(out)))
	}
	return string(out)
}

// A newcomer's path: `tokenhost plugin new`, the module's own tests, a build, `tokenhost plugins hash`, and
// a real host that runs the pinned binary and gets a token from it.
func TestPluginNewScaffoldsAWorkingPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module")
	}
	needBinaries(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "corp-sso")
	r := tokenhost(t, "", nil, "plugin", "new", "corp-sso", "--dir", dir, "--module", "example.com/corp-sso")
	if r.code != 0 || !strings.Contains(r.stdout, "go mod tidy") {
		t.Fatalf("plugin new:\n%s", r)
	}
	for _, f := range []string{"go.mod", "main.go", "source.go", "source_test.go", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("plugin new wrote no %s", f)
		}
	}
	if again := tokenhost(t, "", nil, "plugin", "new", "corp-sso", "--dir", dir); again.code == 0 || !strings.Contains(again.stderr, "not empty") {
		t.Errorf("plugin new over an existing module:\n%s", again)
	}

	goCmd(t, dir, "mod", "edit", "-replace", "github.com/tokenhost/tokenhost="+root)
	goCmd(t, dir, "mod", "tidy")
	goCmd(t, dir, "test", "-count=1", "./...")
	bin := filepath.Join(dir, "corp-sso")
	goCmd(t, dir, "build", "-o", bin, ".")

	hash := tokenhost(t, "", nil, "plugins", "hash", bin)
	pin := strings.TrimSpace(hash.stdout)
	if hash.code != 0 || !strings.HasPrefix(pin, "sha256: ") || len(pin) != len("sha256: ")+64 {
		t.Fatalf("plugins hash:\n%s", hash)
	}
	g := newGatewayFakes(t)
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf(`
providers:
  corp-sso:
    plugin: %s
    %s
    upstream: %s
    options:
      token_url: %s
      client_id: %s
      client_secret_env: CORP_SSO_CLIENT_SECRET
      scopes: [llm.invoke]
`, bin, pin, g.up.URL(), g.idp.TokenURL(), g.clientID))
	env := []string{"CORP_SSO_CLIENT_SECRET=" + g.secret}
	if check := tokenhost(t, cfg, env, "check"); check.code != 0 || !strings.Contains(check.stdout, "corp-sso") {
		t.Fatalf("check with the new plugin:\n%s", check)
	}
	tok := tokenhost(t, cfg, env, "token", "corp-sso")
	if tok.code != 0 || !g.idp.Valid(strings.TrimSpace(tok.stdout)) {
		t.Fatalf("token from the new plugin:\n%s", tok)
	}
	if list := tokenhost(t, cfg, env, "plugins"); !strings.Contains(list.stdout, bin) || !strings.Contains(list.stdout, "sha256") {
		t.Errorf("plugins does not list the pinned external plugin:\n%s", list)
	}
}
