package tests

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// TestWalkthroughRunsAsWritten runs docs/walkthrough.md as a newcomer would: in a fresh `git clone` of
// this checkout (its committed HEAD), every ```sh block in order with bash from the clone's root, and
// checks each ```text block under one against what the block printed ("…" matches anything). It runs
// offline (GOPROXY=off, the module and build caches of this test) with HOME in a temporary directory.
// What the page tells the reader to export is set: the client secrets, and the documented environment
// overrides that point each provider's upstream and token endpoint at loopback fakes — a provider's from
// the step after the one that writes it into the file. The fixed port 127.0.0.1:8787 becomes a free one,
// since other tests may run at the same time.
func TestWalkthroughRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository and builds tokenhost and a plugin")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// The clone's path is the same in every run from one checkout, so that Go's build cache, whose keys
	// include source paths, serves the second and later runs' go install; other checkouts use their own.
	sum := sha256.Sum256([]byte(root))
	clone := filepath.Join(os.TempDir(), "tokenhost-walkthrough-"+hex.EncodeToString(sum[:6]))
	if err := os.RemoveAll(clone); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(clone) })
	if out, err := exec.Command("git", "clone", "-q", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone %s: %v\n%s", root, err, out)
	}
	page, err := os.ReadFile(filepath.Join(clone, "docs", "walkthrough.md"))
	if err != nil {
		t.Fatalf("the committed checkout has no docs/walkthrough.md (commit it first): %v", err)
	}
	steps := shellSteps(string(page))
	if len(steps) < 5 {
		t.Fatalf("docs/walkthrough.md has %d sh blocks; want the five steps", len(steps))
	}

	corpSecret, acmeSecret := newSecret(t, "corp-secret"), newSecret(t, "acme-secret")
	corpIdP := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "my-agent", ClientSecret: corpSecret})
	corpUp := fakes.NewUpstream(corpIdP.Valid)
	acmeIdP := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "agent-runtime", ClientSecret: acmeSecret})
	acmeUp := fakes.NewUpstream(acmeIdP.Valid)
	t.Cleanup(func() { corpUp.Close(); corpIdP.Close(); acmeUp.Close(); acmeIdP.Close() })

	home := filepath.Join(tmp, "home")
	gobin := filepath.Join(tmp, "gobin")
	env := []string{
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"GOBIN=" + gobin, "PATH=" + gobin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod",
		"CORP_CLIENT_SECRET=" + corpSecret,
		"TOKENHOST_PROVIDERS__CORP__UPSTREAM=" + corpUp.URL(),
		"TOKENHOST_PROVIDERS__CORP__OPTIONS__TOKEN_URL=" + corpIdP.TokenURL(),
	}
	for _, k := range []string{"GOPATH", "GOMODCACHE", "GOCACHE"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	acmeEnv := []string{"ACME_CLIENT_SECRET=" + acmeSecret,
		"TOKENHOST_PROVIDERS__ACME__UPSTREAM=" + acmeUp.URL(),
		"TOKENHOST_PROVIDERS__ACME__OPTIONS__TOKEN_URL=" + acmeIdP.TokenURL()}
	cfgFile := filepath.Join(home, ".config", "tokenhost", "tokenhost.yaml")

	for i, st := range steps {
		stepEnv := env
		if cfg, err := os.ReadFile(cfgFile); err == nil && strings.Contains(string(cfg), "\n  acme:\n") {
			stepEnv = append(append([]string(nil), env...), acmeEnv...)
		}
		script := strings.ReplaceAll(st.sh, "127.0.0.1:8787", freeLoopbackAddr(t))
		out := runStep(t, clone, script, stepEnv)
		for _, want := range st.want {
			if !expectedLine(want).MatchString(out) {
				t.Fatalf("step %d prints no line like %q\n--- step ---\n%s--- output ---\n%s", i+1, want, st.sh, redact(out))
			}
		}
	}
	if acmeIdP.Issued() == 0 || acmeUp.Requests() == 0 || acmeUp.Rejected() != 0 {
		t.Errorf("the acme plugin's token endpoint issued %d tokens; its upstream saw %d requests, %d rejected; want the proxied request carrying a token the plugin fetched",
			acmeIdP.Issued(), acmeUp.Requests(), acmeUp.Rejected())
	}
	if corpIdP.Issued() == 0 {
		t.Error("the corp provider's token endpoint issued no token; tokenhost check did not reach it")
	}
}

// shellStep is one ```sh block of a page and the lines of the ```text block right under it.
type shellStep struct {
	sh   string
	want []string
}

// shellSteps returns a page's sh blocks in order, each with the expected lines of a text block that
// follows it with only prose or blank lines between.
func shellSteps(page string) []shellStep {
	var steps []shellStep
	var body strings.Builder
	lang, in := "", false
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, lang = true, strings.TrimPrefix(line, "```")
			body.Reset()
		case in && line == "```":
			in = false
			switch {
			case lang == "sh":
				steps = append(steps, shellStep{sh: body.String()})
			case lang == "text" && len(steps) > 0 && steps[len(steps)-1].want == nil:
				steps[len(steps)-1].want = strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n")
			}
		case in:
			body.WriteString(line + "\n")
		}
	}
	return steps
}

// expectedLine turns a documented output line into a pattern for one whole output line; "…" matches
// anything, and runs of spaces in the output (table columns) match the line's "…" or a single space.
func expectedLine(want string) *regexp.Regexp {
	parts := strings.Split(want, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("(?m)^" + strings.Join(parts, ".*") + "$")
}

// stepGuard bounds one walk-through step; building tokenhost from a clone on a busy machine takes minutes.
const stepGuard = 10 * time.Minute

// runStep runs one block with bash in dir and returns what it printed, failing the test when it fails.
func runStep(t *testing.T, dir, script string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = childEnv(t, env...)
	cmd.WaitDelay = hangGuard
	out, err := cmd.CombinedOutput()
	checkNoStrays(t, "a walk-through step")
	if err != nil {
		t.Fatalf("step failed: %v\n--- step ---\n%s--- output ---\n%s", err, script, redact(string(out)))
	}
	return string(out)
}

// freeLoopbackAddr returns a loopback address with a port nobody listens on at the moment.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
