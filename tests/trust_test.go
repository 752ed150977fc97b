package tests

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tokenhost/tokenhost/core/config"
)

// recorder is a loopback upstream that answers every request with a chat completion and remembers the
// Authorization header of each.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}]}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// got returns the Authorization headers received so far.
func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// evilRepo is a directory as a cloned repository could ship it: a tokenhost.yaml whose provider runs a
// command (creating marker) for its token and sends that token to an upstream of the file's choosing.
type evilRepo struct {
	dir, cfg, marker string
	up               *recorder
	env              []string // the trust store in a directory of the test's own, the same for every run
}

const evilToken = "evil-token-from-the-repository"

func newEvilRepo(t *testing.T) *evilRepo {
	e := &evilRepo{dir: t.TempDir(), marker: filepath.Join(t.TempDir(), "ran"), up: newRecorder(t)}
	e.env = []string{"XDG_STATE_HOME=" + t.TempDir()}
	e.cfg = writeFile(t, e.dir, "tokenhost.yaml", fmt.Sprintf(`providers:
  evil:
    plugin: gateway
    upstream: %s
    options:
      grant: exec
      command: [sh, -c, "touch %s && echo %s"]
`, e.up.srv.URL, e.marker, evilToken))
	return e
}

// ran reports whether the repository's command ran, and forgets that it did.
func (e *evilRepo) ran() bool {
	err := os.Remove(e.marker)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// tokenhost runs tokenhost in the repository with args and stdin.
func (e *evilRepo) tokenhost(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runIn(t, e.dir, stdin, bins.tokenhost, args, e.env...)
}

// serveRefused starts `tokenhost serve` in the repository and requires that it exits non-zero with an
// error containing want, before ever listening; when it listens instead, one request is sent through it
// (what a client would do) and the test fails.
func (e *evilRepo) serveRefused(t *testing.T, want string) {
	t.Helper()
	needBinaries(t)
	cmd := exec.Command(bins.tokenhost, "serve", "--listen", "127.0.0.1:0")
	cmd.Dir, cmd.Env = e.dir, childEnv(t, e.env...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out, errs := watchLines(stdout), watchLines(stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !strings.Contains(errs.String(), want) {
				t.Fatalf("serve in the repository: %v, want a non-zero exit with %q\n%s", err, want, errs)
			}
			checkNoStrays(t, "tokenhost serve")
			return
		case <-out.added:
			out.mu.Lock()
			line := strings.Join(out.lines, "\n")
			out.mu.Unlock()
			if i := strings.Index(line, "http://"); strings.Contains(line, "serving") && i >= 0 {
				url := strings.Fields(line[i:])[0]
				if resp, err := http.Post(url+"/evil/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`)); err == nil {
					resp.Body.Close()
				}
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-done
				t.Fatalf("serve loaded the repository's configuration and listened on %s\n%s", url, errs)
			}
		}
	}
}

// refused checks that token, run and serve in the repository run nothing, send nothing, and fail with
// the error naming the file and the trust command.
func (e *evilRepo) refused(t *testing.T, why string) {
	t.Helper()
	want := e.cfg + " " + why
	trust := "tokenhost config trust " + e.cfg
	for _, args := range [][]string{{"token", "evil"}, {"run", "evil", "--", bins.openai}} {
		r := e.tokenhost(t, "go\nexit 0\n", args...)
		if r.code == 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, trust) || !strings.Contains(r.stderr, "--config") {
			t.Errorf("%s: want a non-zero exit with %q and %q\n%s", args[0], want, trust, r)
		}
		if strings.Contains(r.stdout, evilToken) {
			t.Errorf("%s printed the repository's token", args[0])
		}
	}
	e.serveRefused(t, want)
	if e.ran() {
		t.Error("the repository's command ran")
	}
	if got := e.up.got(); len(got) != 0 {
		t.Errorf("the repository's upstream received %d requests", len(got))
	}
}

// A tokenhost.yaml in the working directory, as a cloned repository ships it, runs no command and
// receives no token from `token`, `run` or `serve` until `tokenhost config trust`, and again after it
// changes.
func TestWorkDirConfigRunsNothingUntilTrusted(t *testing.T) {
	e := newEvilRepo(t)
	e.refused(t, "is not trusted")

	r := e.tokenhost(t, "", "config", "trust")
	if r.code != 0 || !strings.Contains(r.stdout, "trusted "+e.cfg+" (sha256 ") {
		t.Fatalf("config trust\n%s", r)
	}
	// Trusted, the same file loads: the command runs and the token goes to the file's upstream, which
	// shows that the refusals above were the trust check and nothing else.
	r = e.tokenhost(t, "", "token", "evil")
	if r.code != 0 || strings.TrimSpace(r.stdout) != evilToken || !e.ran() {
		t.Fatalf("token after trust\n%s", r)
	}
	r = e.tokenhost(t, "go\nexit 0\n", "run", "evil", "--", bins.openai)
	if got := e.up.got(); r.code != 0 || !strings.Contains(r.stdout, "ok 1") || len(got) != 1 || got[0] != "Bearer "+evilToken {
		t.Fatalf("run after trust: upstream got %q\n%s", got, r)
	}
	e.up.mu.Lock()
	e.up.auth = nil
	e.up.mu.Unlock()
	e.ran()

	f, err := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("# one more line\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e.refused(t, "changed since it was trusted")

	// --config is the user's own choice: it needs no trust.
	r = e.tokenhost(t, "", "token", "evil", "--config", e.cfg)
	if r.code != 0 || strings.TrimSpace(r.stdout) != evilToken {
		t.Fatalf("token --config\n%s", r)
	}
}

// A configuration others can write, or one in a directory others can write, is refused with the chmod
// that fixes it.
func TestConfigOthersCanWriteIsRefused(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	if err := os.Chmod(cfg, 0o664); err != nil {
		t.Fatal(err)
	}
	r := tokenhost(t, cfg, env, "token", "corp")
	if r.code == 0 || !strings.Contains(r.stderr, "writable by other users") || !strings.Contains(r.stderr, "chmod go-w "+cfg) {
		t.Errorf("group-writable config: want a refusal with chmod go-w %s\n%s", cfg, r)
	}
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(cfg)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	r = tokenhost(t, cfg, env, "token", "corp")
	if r.code == 0 || !strings.Contains(r.stderr, "the directory "+dir+" is writable by other users") || !strings.Contains(r.stderr, "chmod go-w "+dir) {
		t.Errorf("config in a world-writable directory: want a refusal with chmod go-w %s\n%s", dir, r)
	}
	if n := g.idp.Requests(); n != 0 {
		t.Errorf("the identity provider got %d requests from refused configurations", n)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if r = tokenhost(t, cfg, env, "token", "corp"); r.code != 0 {
		t.Errorf("after chmod go-w on the directory the configuration still does not load\n%s", r)
	}
}

// `tokenhost serve` started on a trusted working-directory file does not reload a changed content until
// it is trusted again (the log gives the command), then reloads it by itself; a reload of a file, or into
// a directory, that others can write is refused with the chmod that fixes it, the running configuration
// staying each time.
func TestServeReloadRechecksTrust(t *testing.T) {
	g := newGatewayFakes(t)
	repo := t.TempDir()
	env := []string{"CORP_SECRET=" + g.secret, "XDG_STATE_HOME=" + t.TempDir()}
	cfg := writeFile(t, repo, "tokenhost.yaml", reloadConfig(g, map[string]string{"stay": "1m"}))
	if r := runIn(t, repo, "", bins.tokenhost, []string{"config", "trust"}, env...); r.code != 0 {
		t.Fatalf("config trust\n%s", r)
	}
	s := startServeIn(t, repo, env)
	generation := func() int64 {
		t.Helper()
		return providersByName(t, s)["stay"].Generation
	}

	replaceFile(t, cfg, reloadConfig(g, map[string]string{"stay": "1m", "new": "1m"}))
	s.stderr.wait(t, cfg+" changed since it was trusted")
	s.stderr.wait(t, `command="tokenhost config trust `+cfg+`"`)
	if _, ok := providersByName(t, s)["new"]; ok || generation() != 1 {
		t.Fatalf("the untrusted content was loaded: %+v\n%s", providersByName(t, s), s.stderr)
	}
	// SIGHUP does not get round the check either.
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.stderr.wait(t, "why=SIGHUP")
	if generation() != 1 {
		t.Fatalf("SIGHUP loaded the untrusted content\n%s", s.stderr)
	}

	// In this process: a tokenhost run while serve is running would count serve as its stray.
	if _, _, err := config.Trust(config.Sources{Environ: env, Dir: repo}, ""); err != nil {
		t.Fatal(err)
	}
	s.stderr.wait(t, "generation=2")
	if _, ok := providersByName(t, s)["new"]; !ok {
		t.Fatalf("trusted content not loaded\n%s", s.stderr)
	}
}

// `tokenhost serve` refuses to reload a configuration file others can write, or one in a directory others
// can write, with the chmod that fixes it; the running configuration stays until the modes are fixed.
func TestServeReloadRefusesFilesOthersCanWrite(t *testing.T) {
	g := newGatewayFakes(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "tokenhost.yaml", reloadConfig(g, map[string]string{"stay": "1m"}))
	s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret})
	unchanged := func(what string) {
		t.Helper()
		if ps := providersByName(t, s); ps["stay"].Generation != 1 || len(ps) != 1 {
			t.Fatalf("%s: the configuration was reloaded: %+v\n%s", what, ps, s.stderr)
		}
	}

	// New content arrives group-writable (renamed over the file, so it is never seen with another mode).
	tmp := filepath.Join(dir, ".next")
	if err := os.WriteFile(tmp, []byte(reloadConfig(g, map[string]string{"stay": "1m", "new": "1m"})), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o664); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, cfg); err != nil {
		t.Fatal(err)
	}
	s.stderr.wait(t, "chmod go-w "+cfg)
	unchanged("group-writable file")

	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.stderr.wait(t, "the directory "+dir+" is writable by other users")
	s.stderr.wait(t, "chmod go-w "+dir)
	unchanged("world-writable directory")

	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.stderr.wait(t, "generation=2")
	if _, ok := providersByName(t, s)["new"]; !ok {
		t.Fatalf("the content was not loaded once the modes were fixed\n%s", s.stderr)
	}
}
