// Package tests holds tokenhost's end-to-end tests: they build the real tokenhost binary, an embedding
// program and external plugins, and run them as processes against the loopback fakes of internal/fakes.
package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// hangGuard bounds every process a test runs. It is only a guard against hangs, never a way to wait for
// something: every run is expected to end by itself well before it.
const hangGuard = 2 * time.Minute

// bins are the programs TestMain builds.
var bins struct {
	dir       string
	tokenhost string // ./cmd/tokenhost
	embed     string // ./tests/testdata/embed
	lean      string // ./tests/testdata/lean
	extplugin string // ./tests/testdata/extplugin
	pluginv2  string // ./tests/testdata/pluginv2
	codexcli  string // ./tests/testdata/codexcli
	openai    string // ./tests/testdata/openaiclient
	pluginv1  string // ./tests/testdata/pluginv1
	envplugin string // ./tests/testdata/envplugin
	sigcount  string // ./tests/testdata/sigcount
}

// buildErr is set when building the programs failed; buildOut is what the build printed.
var (
	buildErr error
	buildOut string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tokenhost-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: cannot create a temporary directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildAll(dir)
	// Orphaned grandchildren (a plugin process its host left behind) are re-parented to this process, so
	// the stray-process check after every run sees them.
	becomeSubreaper()
	return m.Run()
}

// buildAll builds every program the tests run into dir, with one go build of the current module.
func buildAll(dir string) {
	root, err := filepath.Abs("..")
	if err == nil {
		if _, serr := os.Stat(filepath.Join(root, "go.mod")); serr != nil {
			err = fmt.Errorf("no go.mod in %s: %v", root, serr)
		}
	}
	if err != nil {
		buildErr = fmt.Errorf("cannot find the module root: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/tokenhost", "./tests/testdata/embed", "./tests/testdata/lean", "./tests/testdata/extplugin", "./tests/testdata/pluginv2", "./tests/testdata/codexcli", "./tests/testdata/openaiclient", "./tests/testdata/pluginv1", "./tests/testdata/envplugin", "./tests/testdata/sigcount")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	buildOut = string(out)
	if err != nil {
		buildErr = fmt.Errorf("go build in %s: %v", root, err)
		return
	}
	bins.dir = dir
	bins.tokenhost = filepath.Join(dir, "tokenhost")
	bins.embed = filepath.Join(dir, "embed")
	bins.lean = filepath.Join(dir, "lean")
	bins.extplugin = filepath.Join(dir, "extplugin")
	bins.pluginv2 = filepath.Join(dir, "pluginv2")
	bins.codexcli = filepath.Join(dir, "codexcli")
	bins.openai = filepath.Join(dir, "openaiclient")
	bins.pluginv1 = filepath.Join(dir, "pluginv1")
	bins.sigcount = filepath.Join(dir, "sigcount")
	bins.envplugin = filepath.Join(dir, "envplugin")
	for _, p := range []string{bins.tokenhost, bins.embed, bins.lean, bins.extplugin, bins.pluginv2, bins.codexcli, bins.openai, bins.pluginv1, bins.envplugin} {
		if _, err := os.Stat(p); err != nil {
			buildErr = fmt.Errorf("go build did not produce %s: %v", p, err)
			return
		}
	}
}

// needBinaries fails the test when TestMain could not build the programs.
func needBinaries(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the test programs failed: %v\n%s", buildErr, buildOut)
	}
}

// --- secrets and redaction ---------------------------------------------------------------------------

var knownSecrets struct {
	mu   sync.Mutex
	list []string
}

// newSecret returns a random client secret, remembered so that redact removes it from anything printed.
func newSecret(t *testing.T, prefix string) string {
	t.Helper()
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	s := prefix + "-" + hex.EncodeToString(b[:])
	knownSecrets.mu.Lock()
	knownSecrets.list = append(knownSecrets.list, s)
	knownSecrets.mu.Unlock()
	return s
}

var tokenChars = regexp.MustCompile(`[A-Za-z0-9_-]+`)

// redact replaces every known secret, and every run of 43 base64url characters (the shape of the fakes'
// access tokens), with a placeholder, so test output never shows a credential.
func redact(s string) string {
	knownSecrets.mu.Lock()
	secrets := append([]string(nil), knownSecrets.list...)
	knownSecrets.mu.Unlock()
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, "<redacted-secret>")
	}
	return tokenChars.ReplaceAllStringFunc(s, func(w string) string {
		if len(w) == 43 {
			return "<redacted-token>"
		}
		return w
	})
}

// --- running programs ------------------------------------------------------------------------------

// result is how a program run ended.
type result struct {
	name    string
	stdout  string
	stderr  string
	code    int
	elapsed time.Duration
}

// String describes the run for failure messages, redacted.
func (r result) String() string {
	return redact(fmt.Sprintf("%s: exit %d after %s\n--- stdout ---\n%s--- stderr ---\n%s--------------",
		r.name, r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr))
}

// childEnv is the environment of every program a test runs: the test's own, minus TOKENHOST_* and proxy
// settings, with HOME and XDG_CONFIG_HOME in fresh temporary directories (so no real configuration or
// credential can leak in), plus extra.
func childEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToUpper(k), "TOKENHOST_"),
			k == "HOME", k == "XDG_CONFIG_HOME",
			strings.EqualFold(k, "HTTP_PROXY"), strings.EqualFold(k, "HTTPS_PROXY"), strings.EqualFold(k, "NO_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	return append(env, extra...)
}

// run runs bin with args and the extra environment, in a fresh working directory, and returns how it
// ended. It fails the test when the program hangs, when any output mentions a panic, or when a process
// the program started is still running after it ended.
func run(t *testing.T, bin string, args []string, env ...string) result {
	t.Helper()
	return runIn(t, t.TempDir(), "", bin, args, env...)
}

// runIn is run in the working directory dir, with stdin (when not "") as the program's standard input.
func runIn(t *testing.T, dir, stdin, bin string, args []string, env ...string) result {
	t.Helper()
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.Env = childEnv(t, env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{
		name:    filepath.Base(bin) + " " + strings.Join(args, " "),
		stdout:  stdout.String(),
		stderr:  stderr.String(),
		elapsed: time.Since(start),
	}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within %s (hang)\n%s", r.name, hangGuard, r)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s: %v\n%s", r.name, err, r)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
			t.Errorf("%s: output mentions a panic or goroutine dump\n%s", r.name, r)
		}
	}
	checkNoStrays(t, r.name)
	return r
}

// tokenhost runs the tokenhost binary with --config cfg (when cfg is not "") and args.
func tokenhost(t *testing.T, cfg string, env []string, args ...string) result {
	t.Helper()
	if cfg != "" {
		args = append(append([]string(nil), args...), "--config", cfg)
	}
	return run(t, bins.tokenhost, args, env...)
}

// checkNoStrays fails the test when a process started (directly or not) by the run that just ended is
// still alive: a child re-parented to this test process, or any process running one of the programs
// TestMain built.
func checkNoStrays(t *testing.T, what string) {
	t.Helper()
	strays, err := strayProcesses(os.Getpid(), bins.dir)
	if err != nil {
		t.Logf("cannot check for stray processes: %v", err)
		return
	}
	for _, p := range strays {
		// A process with a SIGKILL pending was killed before the program ended (the host kills its
		// plugin's whole process group): what is left is the kernel finishing its exit, which only the
		// process's parent can wait for, and a re-parented grandchild's parent is this test. It must
		// still end; one that does not within the hang guard is a stray.
		if p.dying && awaitExit(p.pid, hangGuard) {
			continue
		}
		t.Errorf("after %s ended, process %d (%s) is still running", redact(what), p.pid, redact(p.desc))
		// It is a descendant of a program this test started; end it so it cannot disturb later tests.
		if proc, err := os.FindProcess(p.pid); err == nil {
			_ = proc.Kill()
		}
	}
}

// oneLine reports whether s is exactly one non-empty line (with or without its final newline).
func oneLine(s string) bool {
	s = strings.TrimSuffix(s, "\n")
	return s != "" && !strings.ContainsAny(s, "\r\n")
}

// --- configurations --------------------------------------------------------------------------------

// gatewayFakes is a loopback OAuth token endpoint (client credentials) and an upstream that accepts the
// tokens it issues.
type gatewayFakes struct {
	idp      *fakes.OAuthServer
	up       *fakes.Upstream
	clientID string
	secret   string
}

// newGatewayFakes starts the fakes for one client; the test's cleanup stops them.
func newGatewayFakes(t *testing.T) *gatewayFakes {
	t.Helper()
	g := &gatewayFakes{clientID: "e2e-client", secret: newSecret(t, "e2e-secret")}
	g.idp = fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: g.clientID, ClientSecret: g.secret})
	g.up = fakes.NewUpstream(g.idp.Valid)
	t.Cleanup(func() { g.up.Close(); g.idp.Close() })
	return g
}

// provider is one provider block of a test configuration.
type provider struct {
	name      string
	plugin    string // default "gateway"
	sha256    string
	authStyle string // default basic
	secretEnv string // the environment variable client_secret_env names
	extra     string // further option lines, e.g. "timeout: 1s"
}

// yaml returns the provider's block under providers:, against the fakes g.
func (p provider) yaml(g *gatewayFakes) string {
	plugin := p.plugin
	if plugin == "" {
		plugin = "gateway"
	}
	style := p.authStyle
	if style == "" {
		style = "basic"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %s:\n", p.name)
	fmt.Fprintf(&b, "    plugin: %q\n", plugin)
	if p.sha256 != "" {
		fmt.Fprintf(&b, "    sha256: %q\n", p.sha256)
	}
	fmt.Fprintf(&b, "    upstream: %s\n", g.up.URL())
	fmt.Fprintf(&b, "    options:\n")
	fmt.Fprintf(&b, "      grant: client_credentials\n")
	fmt.Fprintf(&b, "      token_url: %s\n", g.idp.TokenURL())
	fmt.Fprintf(&b, "      client_id: %s\n", g.clientID)
	fmt.Fprintf(&b, "      client_secret_env: %s\n", p.secretEnv)
	fmt.Fprintf(&b, "      scopes: [llm.invoke]\n")
	fmt.Fprintf(&b, "      auth_style: %s\n", style)
	for _, line := range strings.Split(strings.TrimSpace(p.extra), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "      %s\n", line)
		}
	}
	return b.String()
}

// writeConfig writes a configuration with the providers to dir/tokenhost-e2e.yaml and returns its path.
func writeConfig(t *testing.T, dir string, g *gatewayFakes, ps ...provider) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("providers:\n")
	for _, p := range ps {
		b.WriteString(p.yaml(g))
	}
	return writeFile(t, dir, "tokenhost-e2e.yaml", b.String())
}

// writeFile writes content to dir/name (dir "" = a new temporary directory) and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// corpConfig writes a configuration with the one provider corp (the built-in gateway plugin, basic auth)
// reading its secret from CORP_SECRET, and returns its path and the environment with the right secret.
func corpConfig(t *testing.T, g *gatewayFakes, extra string) (string, []string) {
	t.Helper()
	cfg := writeConfig(t, "", g, provider{name: "corp", secretEnv: "CORP_SECRET", extra: extra})
	return cfg, []string{"CORP_SECRET=" + g.secret}
}

// tokensAtOnce runs n `tokenhost token <provider>` processes at once while the identity provider holds
// the first token request (hold returns its release; waitHeld waits for held requests), so the others
// meet the plugin's cross-process lock. It fails the test if any process fails, and returns what each
// printed on stdout, trimmed.
func tokensAtOnce(t *testing.T, cfg, dir, provider string, n int, hold func() func(), waitHeld func(context.Context, int64) error) []string {
	t.Helper()
	needBinaries(t)
	release := hold()
	defer release()
	outs, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bins.tokenhost, "token", provider, "--config", cfg)
			cmd.Dir, cmd.Env = dir, childEnv(t)
			var so, se strings.Builder
			cmd.Stdout, cmd.Stderr = &so, &se
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("process %d: %v: %s", i, err, redact(se.String()))
			}
			outs[i] = strings.TrimSpace(so.String())
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := waitHeld(ctx, 1); err != nil {
		t.Fatal("no token request reached the identity provider")
	}
	release()
	wg.Wait()
	checkNoStrays(t, "tokenhost token "+provider)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return outs
}
