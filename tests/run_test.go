package tests

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// `tokenhost run corp -- <an OpenAI SDK program>`: the program, configured only by OPENAI_BASE_URL and
// OPENAI_API_KEY, gets answers through a token revocation and a token expiry; the run's proxy refuses
// requests without the run's key; the command's exit status becomes tokenhost's.
func TestRunGivesAToolTheProvider(t *testing.T) {
	needBinaries(t)
	secret := newSecret(t, "run-secret")
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "run-client", ClientSecret: secret, ExpiresIn: time.Second})
	up := fakes.NewUpstream(idp.Valid)
	t.Cleanup(func() { up.Close(); idp.Close() })
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf(`
providers:
  corp:
    plugin: gateway
    upstream: %s
    options:
      grant: client_credentials
      token_url: %s
      client_id: run-client
      client_secret_env: RUN_SECRET
`, up.URL(), idp.TokenURL()))

	cmd := exec.Command(bins.tokenhost, "run", "corp", "--config", cfg, "--env", "MY_LLM_URL", "--", bins.openai)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv(t, "RUN_SECRET="+secret)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out, errs := watchLines(stdout), watchLines(stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	say := func(line string) { _, _ = io.WriteString(stdin, line+"\n") }

	out.wait(t, "base http://127.0.0.1:")
	out.mu.Lock()
	f := strings.Fields(out.lines[0])
	out.mu.Unlock()
	if len(f) != 3 || !strings.HasSuffix(f[1], "/corp") || f[2] != f[1] {
		t.Fatalf("the command saw %q; want OPENAI_BASE_URL and MY_LLM_URL (--env) both the run's proxy for corp", f)
	}
	base := f[1]
	resp, err := http.Post(base+"/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request without the run's key got %d, want 401", resp.StatusCode)
	}

	say("go")
	out.wait(t, "ok 1")
	idp.RevokeAll() // the cached token is rejected: one refresh, one resend
	say("go")
	out.wait(t, "ok 2")
	// Tokens live one second: after two, the cached one has expired and the next request needs a new one.
	<-time.After(2 * time.Second)
	say("go")
	out.wait(t, "ok 3")
	if got := idp.Issued(); got < 3 {
		t.Errorf("the identity provider issued %d tokens; the run did not survive revocation and expiry on fresh tokens", got)
	}
	say("exit 3")
	err = <-done
	done <- err // for the cleanup
	if cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("tokenhost run exited %d, want the command's 3\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), out, errs)
	}
	if strings.Contains(out.String()+errs.String(), "err ") {
		t.Errorf("a request failed:\n%s", out)
	}
}
