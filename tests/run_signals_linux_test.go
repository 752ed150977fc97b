package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/ptytest"
)

// runCounter starts `tokenhost run corp -- sigcount` (a program that counts its SIGINTs) with stdio on f (or pipes when f is nil),
// in a session of its own, with f as its controlling terminal when tty is set.
func runCounter(t *testing.T, f *os.File, tty bool) (*exec.Cmd, *lineWatch) {
	t.Helper()
	needBinaries(t)
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "sig-client", ClientSecret: "sig-secret-value", ExpiresIn: time.Minute})
	t.Cleanup(idp.Close)
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf(`
providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:1
    options:
      grant: client_credentials
      token_url: %s
      client_id: sig-client
      client_secret_env: SIG_SECRET
`, idp.TokenURL()))
	cmd := exec.Command(bins.tokenhost, "run", "corp", "--config", cfg, "--", bins.sigcount)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv(t, "SIG_SECRET=sig-secret-value")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: tty}
	var out *lineWatch
	if f != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
	} else {
		r, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		out = watchLines(r)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}

// finish stops the command with SIGTERM (passed on by tokenhost) and checks its report and exit status.
func finish(t *testing.T, cmd *exec.Cmd, out *lineWatch, wantCount int) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out.wait(t, "count ")
	err := cmd.Wait()
	if want := fmt.Sprintf("count %d", wantCount); !strings.Contains(out.String(), want) {
		t.Errorf("the command reported %q; want %q", out, want)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("tokenhost run exited with %v; want the command's status 7\n%s", err, out)
	}
}

// A SIGINT sent to tokenhost alone (no terminal) reaches the command once.
func TestRunPassesSignalsOn(t *testing.T) {
	cmd, out := runCounter(t, nil, false)
	out.wait(t, "ready")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	out.wait(t, "INT 1")
	finish(t, cmd, out, 1)
}

// Ctrl-C typed in the terminal reaches the command from the terminal, which signals the whole foreground
// process group; tokenhost must not pass it on again (the command would count two).
func TestRunCtrlCReachesTheCommandOnce(t *testing.T) {
	master, slave := ptytest.Open(t)
	cmd, _ := runCounter(t, slave, true)
	slave.Close()
	out := watchLines(master)
	out.wait(t, "ready")
	if _, err := master.Write([]byte{0x03}); err != nil { // Ctrl-C: the line discipline sends SIGINT
		t.Fatal(err)
	}
	out.wait(t, "INT 1")
	finish(t, cmd, out, 1)
}
