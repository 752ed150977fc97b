//go:build linux || darwin || freebsd

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// peerHelperEnv makes this test binary, run as another user, play the other end of a control socket.
const peerHelperEnv = "TOKENHOST_TEST_PEER_HELPER"

// TestControlPeerHelper is the other user's program: "listen:<path>" serves the attacker's token on a
// socket at path (printing "ready", then "served" per request) until stdin closes; "dial:<path>" sends a
// token request to path and prints how many bytes came back.
func TestControlPeerHelper(t *testing.T) {
	mode, path, ok := strings.Cut(os.Getenv(peerHelperEnv), ":")
	if !ok {
		t.Skip("the other end of the peer tests, run by them as another user")
	}
	switch mode {
	case "listen":
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Println("served")
				_ = json.NewEncoder(w).Encode(attacker)
			}))
		}()
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "dial":
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET /token/corp HTTP/1.1\r\nHost: tokenhost\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		fmt.Printf("read %d bytes\n", len(b))
	}
}

// asNobody returns a command running this test binary's peer helper as uid nobody, in base (which it
// makes readable to that user and copies the binary into); it skips unless the test runs as root.
func asNobody(t *testing.T, base, helper string) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("only root can run a process as another user")
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0]) // the test binary's own directory is private to root
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "peer.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestControlPeerHelper$")
	cmd.Dir = base
	cmd.Env = append(os.Environ(), peerHelperEnv+"="+helper)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}

// A socket whose directory and file pass every check but whose listener runs as another user is not
// trusted: token sends it no request and says why.
func TestControlClientRefusesPeerOfAnotherUser(t *testing.T) {
	base := shortDir(t)
	theirs, mine := filepath.Join(base, "theirs"), filepath.Join(base, "tokenhost")
	cmd := asNobody(t, base, "listen:"+filepath.Join(theirs, "x.sock"))
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(mine, 0o700); err != nil {
		t.Fatal(err)
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("the other user's listener did not start: %q %s", lines.Text(), stderr.String())
	}
	// Root moves the other user's socket into the user's own directory and makes the file the user's:
	// only the peer check is left to notice.
	path := filepath.Join(mine, "x.sock")
	if err := os.Rename(filepath.Join(theirs, "x.sock"), path); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(path, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	ct, answered, err := askControlAt(t.Context(), path, "corp", "", &warn)
	stdin.Close()
	rest, _ := io.ReadAll(stdout)
	_ = cmd.Wait()
	if answered || err != nil || ct.Token.Value != "" || strings.Contains(string(rest), "served") {
		t.Fatalf("answered %v, err %v, token %q, listener printed %q: want no request sent", answered, err, ct.Token.Value, rest)
	}
	if w := warn.String(); !strings.Contains(w, fmt.Sprintf("runs as uid %d, not as you", nobody)) || !strings.Contains(w, path) {
		t.Errorf("token said %q: want the peer's uid and the socket", w)
	}
}

// A connection from another user's process is closed before serve reads a request from it; the user's
// own still gets an answer.
func TestControlServerRefusesPeerOfAnotherUser(t *testing.T) {
	base := shortDir(t)
	cmd := asNobody(t, base, "dial:"+filepath.Join(base, "s.sock"))
	ln, err := net.Listen("unix", filepath.Join(base, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(base, "s.sock"), 0o777); err != nil { // as if every other check had failed
		t.Fatal(err)
	}
	var logged lockedBuffer
	var served atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served.Add(1) })}
	go func() {
		_ = srv.Serve(peerCheckedListener{Listener: ln, log: slog.New(slog.NewTextHandler(&logged, nil))})
	}()
	defer srv.Close()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "read 0 bytes") || served.Load() != 0 {
		t.Fatalf("another user's request: %v, %d served, helper said %q", err, served.Load(), out)
	}
	if !strings.Contains(logged.String(), fmt.Sprintf("uid %d", nobody)) {
		t.Errorf("serve logged %q: want the refused uid", logged.String())
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(base, "s.sock"))
	}}}
	resp, err := c.Get("http://tokenhost/token/corp")
	if err != nil || resp.StatusCode != http.StatusOK || served.Load() != 1 {
		t.Fatalf("the user's own request: %v, %d served", err, served.Load())
	}
	resp.Body.Close()
}

// lockedBuffer is a buffer the server's goroutine writes and the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
