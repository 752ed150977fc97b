//go:build unix

package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/nodetools"
)

// agentRecipeMark precedes each recipe block in docs/agents.md: <!-- recipe: name -->, then the fence.
var agentRecipeMark = regexp.MustCompile("(?ms)^<!-- recipe: ([a-z0-9-]+) -->\\n```(\\w+)\\n(.*?)^```$")

// agentRecipe returns the text of docs/agents.md's recipe block called name, failing the test when the
// page has none.
func agentRecipe(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "agents.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range agentRecipeMark.FindAllStringSubmatch(string(doc), -1) {
		if m[1] == name {
			return m[3]
		}
	}
	t.Fatalf("docs/agents.md has no recipe block %q (a line <!-- recipe: %s --> right before its fence)", name, name)
	return ""
}

// substitute replaces old, which must occur in the recipe, with new: only what docs/agents.md says to
// substitute.
func substitute(t *testing.T, recipe, old, new string) string {
	t.Helper()
	if !strings.Contains(recipe, old) {
		t.Fatalf("the recipe no longer contains %q, which the page says to substitute:\n%s", old, recipe)
	}
	return strings.ReplaceAll(recipe, old, new)
}

// agentHome is the environment of one agent CLI: a temporary HOME (with CODEX_HOME and Claude Code's
// settings under it), tokenhost and the pinned CLIs first on PATH, no proxy, nothing that could reach
// past loopback.
type agentHome struct {
	dir  string // HOME
	work string // the working directory, a fresh git repository (Codex wants one)
	env  []string
	// besideServe is set while the test runs a `tokenhost serve` of its own: the check for processes left
	// behind after each run would take that one for a stray, so serve's own cleanup checks instead.
	besideServe bool
}

// newAgentHome makes the directories and the environment; extra is appended to it.
func newAgentHome(t *testing.T, extra ...string) *agentHome {
	t.Helper()
	needBinaries(t)
	h := &agentHome{dir: t.TempDir(), work: t.TempDir()}
	for _, d := range []string{".codex", ".claude", ".cache", ".config"} {
		if err := os.MkdirAll(filepath.Join(h.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if git, err := exec.LookPath("git"); err == nil {
		if out, err := exec.Command(git, "init", "-q", h.work).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v: %s", err, out)
		}
	} else if err := os.Mkdir(filepath.Join(h.work, ".git"), 0o700); err != nil {
		t.Fatal(err)
	}
	node := filepath.Dir(nodetools.Node(t))
	clis := filepath.Dir(nodetools.Bin(t, "codex"))
	var env []string
	for _, kv := range childEnv(t) {
		k, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(k)
		switch {
		case u == "PATH", u == "HOME", u == "XDG_CONFIG_HOME", u == "XDG_CACHE_HOME", u == "XDG_RUNTIME_DIR",
			strings.HasPrefix(u, "OPENAI_"), strings.HasPrefix(u, "ANTHROPIC_"), strings.HasPrefix(u, "CODEX_"),
			strings.HasPrefix(u, "CLAUDE_"), u == "ALL_PROXY", u == "FTP_PROXY":
			continue
		}
		env = append(env, kv)
	}
	h.env = append(env,
		"PATH="+strings.Join([]string{bins.dir, clis, node, "/usr/local/bin", "/usr/bin", "/bin"}, string(os.PathListSeparator)),
		"HOME="+h.dir,
		"XDG_CONFIG_HOME="+filepath.Join(h.dir, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(h.dir, ".cache"),
		"XDG_RUNTIME_DIR="+h.dir, // no running serve of another test answers `tokenhost token`
		"CODEX_HOME="+filepath.Join(h.dir, ".codex"),
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
		"NO_COLOR=1",
	)
	h.env = append(h.env, extra...)
	return h
}

// write writes content to the file rel under HOME.
func (h *agentHome) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(h.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// agentRunLimit bounds one agent CLI run; it is a guard against hangs, never a way to wait.
const agentRunLimit = 3 * time.Minute

// runShell runs script with /bin/sh in h's working directory and environment, in a process group of its
// own that is killed when the run ends or the limit passes, and returns how it ended. It fails the test
// when a process the script started outlives that (unless besideServe).
func (h *agentHome) runShell(t *testing.T, script string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentRunLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Dir, cmd.Env = h.work, h.env
	cmd.Stdin = nil // /dev/null: codex exec reads a prompt from a terminal or pipe otherwise
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the CLI left in its group
	}
	r := result{name: "sh -c " + firstLine(script), stdout: stdout.String(), stderr: tail(stderr.String(), 40), elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		// The caller's checks then fail with what the fakes saw, which says why it hung.
		t.Errorf("%s did not end within %s and was killed", r.name, agentRunLimit)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && ctx.Err() == nil {
		t.Fatalf("running %s: %v\n%s", r.name, err, r)
	}
	if !h.besideServe {
		checkNoStrays(t, r.name)
	}
	return r
}

// firstLine returns s's first non-empty line.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// agentConfig writes a tokenhost configuration with one gateway provider per name → upstream pair
// (client credentials against g's identity provider, the secret read from CORP_SECRET) and returns its
// path and the environment that configuration needs.
func agentConfig(t *testing.T, g *gatewayFakes, nameUpstream ...string) (string, []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("providers:\n")
	for i := 0; i+1 < len(nameUpstream); i += 2 {
		b.WriteString("  " + nameUpstream[i] + ":\n")
		b.WriteString("    plugin: gateway\n")
		b.WriteString("    upstream: " + nameUpstream[i+1] + "\n")
		b.WriteString("    options:\n")
		b.WriteString("      grant: client_credentials\n")
		b.WriteString("      token_url: " + g.idp.TokenURL() + "\n")
		b.WriteString("      client_id: " + g.clientID + "\n")
		b.WriteString("      client_secret_env: CORP_SECRET\n")
	}
	cfg := writeFile(t, "", "tokenhost.yaml", b.String())
	return cfg, []string{"TOKENHOST_CONFIG=" + cfg, "CORP_SECRET=" + g.secret}
}

// distinct reports whether no two of tokens are equal.
func distinct(tokens []string) bool {
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			return false
		}
		seen[tok] = true
	}
	return true
}
