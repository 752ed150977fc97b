package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// background is a program a test started and has not waited for yet.
type background struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	err            error // of Start
}

// startBackground starts bin with args and the extra environment in dir, bounded by hangGuard.
func startBackground(t *testing.T, dir, bin string, args []string, env ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	b := &background{name: filepath.Base(bin) + " " + strings.Join(args, " ")}
	b.cmd = exec.CommandContext(ctx, bin, args...)
	b.cmd.Dir, b.cmd.Env = dir, childEnv(t, env...)
	b.cmd.WaitDelay = 5 * time.Second
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	b.err = b.cmd.Start()
	return b
}

// wait waits for the program and returns how it ended.
func (b *background) wait(t *testing.T) result {
	t.Helper()
	if b.err != nil {
		t.Fatalf("starting %s: %v", b.name, b.err)
	}
	err := b.cmd.Wait()
	r := result{name: b.name, stdout: b.stdout.String(), stderr: b.stderr.String(), code: -1}
	if b.cmd.ProcessState != nil {
		r.code = b.cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s: %v\n%s", b.name, err, r)
	}
	return r
}

// codexShare is one auth.json shared by a Codex CLI (played by testdata/codexcli) and tokenhost.
type codexShare struct {
	t    *testing.T
	auth *fakes.CodexAuthServer
	dir  string // CODEX_HOME
	path string // auth.json
	cfg  string // tokenhost.yaml
}

// newCodexShare writes an auth.json whose access token has expired, with a refresh token the fake accepts
// and an agent_identity object the Codex CLI keeps typed.
func newCodexShare(t *testing.T) *codexShare {
	t.Helper()
	needBinaries(t)
	s := &codexShare{t: t, auth: fakes.NewCodexAuthServer(fakes.CodexAuthConfig{}), dir: t.TempDir()}
	t.Cleanup(s.auth.Close)
	s.path = filepath.Join(s.dir, "auth.json")
	rt := "rt-seeded-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	s.auth.SeedRefreshToken(rt)
	expired := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(),
		fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": s.auth.AccountID()}})
	if err := fakes.WriteCodexAuth(s.path, expired, rt, "", s.auth.AccountID(),
		map[string]any{"agent_identity": map[string]any{"id": "agent-1"}}); err != nil {
		t.Fatal(err)
	}
	s.cfg = writeFile(t, t.TempDir(), "tokenhost.yaml", fmt.Sprintf(`
providers:
  codex:
    plugin: codex
    options:
      auth_file: %s
      token_url: %s
`, s.path, s.auth.TokenURL()))
	return s
}

// codexCLI starts the Codex CLI's refresh.
func (s *codexShare) codexCLI() *background {
	return startBackground(s.t, s.dir, bins.codexcli, nil, "CODEX_HOME="+s.dir, "CODEX_REFRESH_TOKEN_URL_OVERRIDE="+s.auth.TokenURL())
}

// tokenhost starts `tokenhost token codex`.
func (s *codexShare) tokenhost() *background {
	return startBackground(s.t, s.t.TempDir(), bins.tokenhost, []string{"token", "codex", "--config", s.cfg})
}

// waitDecided waits until n refresh requests reached the endpoint and were judged.
func (s *codexShare) waitDecided(n int64) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := s.auth.WaitDecided(ctx, n); err != nil {
		s.t.Fatalf("%d refresh requests did not reach the token endpoint", n)
	}
}

var codexAttempts = regexp.MustCompile(`^(stored|discarded) attempts=(\d+)$`)

// checkCLI fails the test when the Codex CLI threw fresh tokens away because a lock stayed busy, or failed
// otherwise; refused (another program redeemed the token first) is allowed only when mayBeRefused. It
// returns how many tries of auth.json.lock the CLI needed (0 when refused).
func (s *codexShare) checkCLI(r result, mayBeRefused bool) int {
	s.t.Helper()
	out := strings.TrimSpace(r.stdout)
	if m := codexAttempts.FindStringSubmatch(out); m != nil && m[1] == "stored" && r.code == 0 {
		n, _ := strconv.Atoi(m[2])
		return n
	}
	if mayBeRefused && r.code == 4 && out == "refused refresh_token_reused" {
		return 0
	}
	s.t.Fatalf("the Codex CLI did not store its tokens:\n%s", r)
	return 0
}

// checkTokenhost fails the test unless tokenhost printed a token the endpoint issued, and returns it.
func (s *codexShare) checkTokenhost(r result) string {
	s.t.Helper()
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || !s.auth.Valid(tok) {
		s.t.Fatalf("tokenhost did not print a valid token:\n%s", r)
	}
	return tok
}

// checkFile fails the test unless auth.json is mode 0600 and holds the live refresh token (the sign-in
// goes on working) and an access token the endpoint issued; it returns the access token.
func (s *codexShare) checkFile() string {
	s.t.Helper()
	access, refresh := codexFile(s.t, s.path)
	if !s.auth.Live(refresh) {
		s.t.Fatal("auth.json does not hold the live refresh token: the sign-in is lost")
	}
	if !s.auth.Valid(access) {
		s.t.Fatal("auth.json does not hold an access token the endpoint issued")
	}
	if st, err := os.Stat(s.path); err != nil || st.Mode().Perm() != 0o600 {
		s.t.Fatalf("auth.json mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	return access
}

// The Codex CLI redeems the refresh token first at an endpoint that takes 6 s to answer, and two tokenhost
// processes start while it waits. tokenhost must not hold the CLI's lock across its own request (the CLI
// would give up after 5 s and lose the sign-in), must not ask the user to sign in again when its request
// is refused as reused, and must end with the CLI's tokens.
func TestCodexCLIRedeemsFirstAtASlowEndpoint(t *testing.T) {
	s := newCodexShare(t)
	s.auth.SetDelay(6 * time.Second)
	cli := s.codexCLI()
	s.waitDecided(1) // the CLI's refresh token is spent; its answer is 6 s away
	th := []*background{s.tokenhost(), s.tokenhost()}
	attempts := s.checkCLI(cli.wait(t), false)
	toks := []string{s.checkTokenhost(th[0].wait(t)), s.checkTokenhost(th[1].wait(t))}
	checkNoStrays(t, "tokenhost token codex")
	final := s.checkFile()
	if toks[0] != final || toks[1] != final {
		t.Error("tokenhost did not serve the tokens the Codex CLI stored")
	}
	if got := s.auth.Refreshes(); got != 1 {
		t.Errorf("%d successful refreshes, want 1 (the CLI's)", got)
	}
	t.Logf("the Codex CLI took auth.json.lock after %d tries", attempts)
}

// tokenhost redeems first at an endpoint that takes 6 s, and the Codex CLI starts while it waits: the CLI's
// request is refused as reused, and auth.json ends with tokenhost's rotated tokens, its other fields kept.
func TestTokenhostRedeemsFirstAtASlowEndpoint(t *testing.T) {
	s := newCodexShare(t)
	s.auth.SetDelay(6 * time.Second)
	th := s.tokenhost()
	s.waitDecided(1)
	cli := s.codexCLI()
	s.checkCLI(cli.wait(t), true)
	tok := s.checkTokenhost(th.wait(t))
	checkNoStrays(t, "tokenhost token codex")
	if final := s.checkFile(); final != tok {
		t.Error("auth.json does not hold the tokens tokenhost redeemed")
	}
	raw, _ := os.ReadFile(s.path)
	if !strings.Contains(string(raw), `"agent-1"`) {
		t.Error("tokenhost dropped the agent_identity field")
	}
}

// The Codex CLI and two tokenhost processes start at once, unpaced, a few rounds: whoever wins, no one
// throws tokens away, tokenhost never asks for a new sign-in, and the file holds the live refresh token.
func TestCodexCLIAndTokenhostRace(t *testing.T) {
	most := 0
	for round := range 4 {
		s := newCodexShare(t)
		var th []*background
		cli := s.codexCLI()
		th = append(th, s.tokenhost(), s.tokenhost())
		most = max(most, s.checkCLI(cli.wait(t), true))
		for _, p := range th {
			s.checkTokenhost(p.wait(t))
		}
		checkNoStrays(t, "tokenhost token codex")
		s.checkFile()
		if got := s.auth.Refreshes(); got != 1 {
			t.Errorf("round %d: %d successful refreshes, want 1", round, got)
		}
	}
	t.Logf("the Codex CLI needed at most %d tries of auth.json.lock", most)
}
