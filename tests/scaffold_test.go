package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goCmd runs the go command in dir with this test's own environment (its module and build caches), and
// fails the test when it fails.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return goCmdEnv(t, dir, nil, args...)
}

// goCmdEnv is goCmd with extra environment variables.
func goCmdEnv(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, redact(string(out)))
	}
	return string(out)
}

// A newcomer's path: `tokenhost plugin new` run in a checkout, the steps it prints run as printed with no
// module proxy (only the module cache the checkout's own build filled), `tokenhost plugins hash`, and a
// real host that runs the pinned binary and gets a token from it.
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
	r := runIn(t, root, "", bins.tokenhost, []string{"plugin", "new", "corp-sso", "--dir", dir, "--module", "example.com/corp-sso"})
	if r.code != 0 {
		t.Fatalf("plugin new:\n%s", r)
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go", "source.go", "source_test.go", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("plugin new wrote no %s", f)
		}
	}
	if again := tokenhost(t, "", nil, "plugin", "new", "corp-sso", "--dir", dir); again.code == 0 || !strings.Contains(again.stderr, "not empty") {
		t.Errorf("plugin new over an existing module:\n%s", again)
	}

	var steps []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "next: "); ok {
			steps = strings.Split(rest, " && ")
		}
	}
	want := []string{"cd " + dir, "go mod tidy", "go test ./...", "go build -o corp-sso .", "tokenhost plugins hash ./corp-sso"}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plugin new in a checkout printed the steps %q, want %q\n%s", steps, want, r)
	}
	offline := []string{"GOPROXY=off"}
	goCmdEnv(t, dir, offline, "mod", "tidy")
	goCmdEnv(t, dir, offline, "test", "-count=1", "./...")
	bin := filepath.Join(dir, "corp-sso")
	goCmdEnv(t, dir, offline, "build", "-o", bin, ".")

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

// Without a release version and outside a checkout, plugin new says the one command that points the module
// at a checkout; with --tokenhost it writes that replace itself.
func TestPluginNewPointsAtACheckout(t *testing.T) {
	needBinaries(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if v := tokenhost(t, "", nil, "version"); regexp.MustCompile(`^tokenhost v\d+\.\d+\.\d+ `).MatchString(v.stdout) {
		t.Skipf("the test binary has a release version:\n%s", v)
	}
	lost := filepath.Join(t.TempDir(), "lost-sso")
	r := tokenhost(t, "", nil, "plugin", "new", "lost-sso", "--dir", lost)
	hint := "go mod edit -replace github.com/tokenhost/tokenhost=/path/to/tokenhost && go mod tidy"
	if r.code != 0 || !strings.Contains(r.stdout, hint) {
		t.Errorf("plugin new outside a checkout does not print %q first:\n%s", hint, r)
	}
	if mod, err := os.ReadFile(filepath.Join(lost, "go.mod")); err != nil || strings.Contains(string(mod), "replace") {
		t.Errorf("plugin new outside a checkout wrote a replace (%v):\n%s", err, mod)
	}

	pointed := filepath.Join(t.TempDir(), "pointed-sso")
	r = tokenhost(t, "", nil, "plugin", "new", "pointed-sso", "--dir", pointed, "--tokenhost", root)
	mod, err := os.ReadFile(filepath.Join(pointed, "go.mod"))
	if r.code != 0 || err != nil || !strings.Contains(string(mod), "replace github.com/tokenhost/tokenhost => "+root+"\n") {
		t.Errorf("plugin new --tokenhost %s (%v):\n%s\n%s", root, err, r, mod)
	}
	if bad := tokenhost(t, "", nil, "plugin", "new", "bad-sso", "--dir", filepath.Join(t.TempDir(), "bad"), "--tokenhost", t.TempDir()); bad.code == 0 || !strings.Contains(bad.stderr, "--tokenhost") {
		t.Errorf("plugin new --tokenhost with no checkout there:\n%s", bad)
	}
}
