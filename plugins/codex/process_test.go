package codex

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
)

const (
	envHelperAuth = "CODEX_TEST_HELPER_AUTH_FILE"
	envHelperURL  = "CODEX_TEST_HELPER_TOKEN_URL"
)

// TestHelperProcess is not a test: TestCrossProcessOneRefresh runs the test binary with it as a separate
// plugin process. It prints "arrived" when it goes for the lock, then "token <value>" or "error <message>".
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(envHelperAuth)
	if path == "" {
		t.Skip("helper process for TestCrossProcessOneRefresh")
	}
	src := New().(*source)
	if _, err := src.Configure(context.Background(), map[string]any{"auth_file": path, "token_url": os.Getenv(envHelperURL)}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	atPoints(src, map[string]func(){pointBeforeLock: func() { fmt.Println("arrived") }})
	tok, err := src.Token(context.Background())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("token", tok.Value)
	os.Exit(0)
}

// TestCrossProcessOneRefresh runs two plugin processes on one auth.json whose access token has expired.
// Both have read the expired token before either takes the lock, and the first is held inside its request
// to the token endpoint while the second waits: exactly one refresh reaches the endpoint and both print the
// same new token.
func TestCrossProcessOneRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip("no test executable:", err)
	}
	e := newEnv(t, fakes.CodexAuthConfig{})
	_, oldRT := e.seedExpired(nil)
	release := e.idp.Hold()
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang guard, not a synchronisation
	defer cancel()

	type proc struct {
		cmd   *exec.Cmd
		lines chan string
	}
	var procs []proc
	for range 2 {
		cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envHelperAuth+"="+e.path, envHelperURL+"="+e.idp.TokenURL())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := proc{cmd, make(chan string, 16)}
		go func() {
			defer close(p.lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
		}()
		procs = append(procs, p)
	}
	next := func(p proc) string {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return ""
			}
			return l
		case <-ctx.Done():
			t.Fatal("a helper process hung")
			return ""
		}
	}
	for i, p := range procs {
		if l := next(p); l != "arrived" {
			t.Fatalf("process %d: %s", i, sdk.RedactString(l, oldRT))
		}
	}
	if err := e.idp.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	release()

	var toks []string
	for i, p := range procs {
		l := next(p)
		tok, ok := strings.CutPrefix(l, "token ")
		if !ok {
			t.Fatalf("process %d: %s", i, sdk.RedactString(l, oldRT))
		}
		toks = append(toks, tok)
		for range p.lines { // drain until the process closes stdout
		}
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	if toks[0] != toks[1] || !e.idp.Valid(toks[0]) {
		t.Errorf("the processes printed different tokens (%s, %s), or an invalid one", sdk.Fingerprint(toks[0]), sdk.Fingerprint(toks[1]))
	}
	if e.idp.Requests() != 1 || e.idp.Refreshes() != 1 {
		t.Errorf("%d requests, %d refreshes; want exactly 1", e.idp.Requests(), e.idp.Refreshes())
	}
	if rt := e.tokens()["refresh_token"]; rt == oldRT || rt == "" || e.tokens()["access_token"] != toks[0] {
		t.Error("auth.json does not hold the rotated refresh token and the printed access token")
	}
}
