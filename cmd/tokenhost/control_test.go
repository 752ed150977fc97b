//go:build linux || darwin || freebsd

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// nobody is the uid these tests use for another user; they chown to it only when running as root.
const nobody = 65534

// shortDir returns a new directory with a short path (a Unix socket path has a limit near 100 bytes).
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "th")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fakeDaemon serves answer on a Unix socket at path, with none of serve's checks, as another user's
// program would; it returns how many requests reached it.
func fakeDaemon(t *testing.T, path string, answer http.HandlerFunc) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); answer(w, r) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &n
}

// answerToken answers ct as the daemon does.
func answerToken(ct cachedToken) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(ct) }
}

var attacker = cachedToken{
	Token:   sdk.Token{Value: "ATTACKER-CONTROLLED-TOKEN", Type: "Bearer"},
	Headers: map[string]string{"Authorization": "Bearer ATTACKER-CONTROLLED-TOKEN"},
}

// A socket directory that is a symbolic link, belongs to another user or is open to other users is
// refused by both ends: serve does not listen in it, and token neither dials a socket in it nor stays
// silent about why.
func TestControlDirectoryRefusedByBothEnds(t *testing.T) {
	for _, c := range []struct {
		name    string
		root    bool
		prepare func(t *testing.T, dir string)
		problem string
	}{
		{"symlink", false, func(t *testing.T, dir string) {
			real := dir + "-real"
			if err := os.Mkdir(real, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"another user's", true, func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}, fmt.Sprintf("belongs to uid %d", nobody)},
		{"open to others", false, func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "has mode 0755"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Getuid() != 0 {
				t.Skip("only root can make a directory another user owns")
			}
			dir := filepath.Join(shortDir(t), "tokenhost")
			c.prepare(t, dir)
			path := filepath.Join(dir, "x.sock")

			ln, err := listenControl(path)
			if err == nil {
				ln.Close()
				t.Fatalf("serve listened in %s", dir)
			}
			if msg := err.Error(); !strings.Contains(msg, dir+" "+c.problem) || !strings.Contains(msg, "XDG_RUNTIME_DIR") || !strings.Contains(msg, "rm -r "+dir) {
				t.Errorf("serve's reason %q: want the directory, %q and the fix", msg, c.problem)
			}
			if _, err := os.Lstat(path); err == nil {
				t.Errorf("serve made %s", path)
			}

			served := fakeDaemon(t, path, answerToken(attacker))
			var warn bytes.Buffer
			ct, answered, err := askControlAt(t.Context(), path, "corp", "", &warn)
			if answered || err != nil || ct.Token.Value != "" || served.Load() != 0 {
				t.Fatalf("token asked the socket in %s: answered %v, err %v, %d requests", dir, answered, err, served.Load())
			}
			if w := warn.String(); strings.Count(w, "\n") != 1 || !strings.Contains(w, dir+" "+c.problem) || !strings.Contains(w, "XDG_RUNTIME_DIR") {
				t.Errorf("token said %q: want one line naming %s, the problem and the fix", w, dir)
			}
		})
	}
}

// A socket in the user's own directory that is not a socket, or belongs to another user, is not dialled.
func TestControlSocketFileChecked(t *testing.T) {
	dir := filepath.Join(shortDir(t), "tokenhost")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	if _, answered, err := askControlAt(t.Context(), path, "corp", "", &warn); answered || err != nil || !strings.Contains(warn.String(), path+" is not a socket") {
		t.Errorf("a regular file as the socket: answered %v, err %v, said %q", answered, err, warn.String())
	}
	if os.Getuid() != 0 {
		t.Skip("only root can make a socket another user owns")
	}
	os.Remove(path)
	served := fakeDaemon(t, path, answerToken(attacker))
	if err := os.Lchown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	warn.Reset()
	if _, answered, err := askControlAt(t.Context(), path, "corp", "", &warn); answered || err != nil || served.Load() != 0 || !strings.Contains(warn.String(), fmt.Sprintf("belongs to uid %d", nobody)) {
		t.Errorf("another user's socket: answered %v, err %v, %d requests, said %q", answered, err, served.Load(), warn.String())
	}
}

// serve makes a missing directory 0700 and a 0600 socket there, and token gets its answer: the checks
// refuse nothing of the user's own.
func TestControlRoundTrip(t *testing.T) {
	path := filepath.Join(shortDir(t), "tokenhost", "x.sock")
	ln, err := listenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		if st, err := os.Lstat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, st.Mode().Perm(), err, want)
		}
	}
	want := cachedToken{Token: sdk.Token{Value: "tok-1", Headers: map[string]string{"X-Account": "a1"}},
		Headers: map[string]string{"Authorization": "Bearer tok-1", "X-Account": "a1"}}
	srv := &http.Server{Handler: answerToken(want)}
	go func() { _ = srv.Serve(peerCheckedListener{Listener: ln, log: slog.New(slog.DiscardHandler)}) }()
	defer srv.Close()
	var warn bytes.Buffer
	ct, answered, err := askControlAt(t.Context(), path, "corp", "", &warn)
	if !answered || err != nil || ct.Token.Value != "tok-1" || ct.Headers["X-Account"] != "a1" || warn.Len() != 0 {
		t.Fatalf("answered %v, err %v, token %q, said %q", answered, err, ct.Token.Value, warn.String())
	}
}

// A reply that would put another line, a Host header or a control character into what token prints is
// refused, and token fetches the token itself.
func TestControlReplyRefused(t *testing.T) {
	tok := func(v string, extra map[string]string) sdk.Token { return sdk.Token{Value: v, Headers: extra} }
	for _, c := range []struct {
		name  string
		reply cachedToken
		why   string
	}{
		{"CRLF in a header value", cachedToken{Token: tok("t1", nil), Headers: map[string]string{"Authorization": "Bearer t1\r\nHost: evil.example"}}, `the value of header "Authorization"`},
		{"invalid header name", cachedToken{Token: tok("t1", nil), Headers: map[string]string{"Authorization": "Bearer t1", "X\r\nHost: evil.example\r\nY": "1"}}, "not a valid HTTP header name"},
		{"Host header", cachedToken{Token: tok("t1", nil), Headers: map[string]string{"Host": "evil.example"}}, `header "Host" routes`},
		{"Host header beside the credential", cachedToken{Token: tok("t1", nil), Headers: map[string]string{"Authorization": "Bearer t1", "Host": "evil.example"}}, "both claim"},
		{"Host among the token's headers", cachedToken{Token: tok("t1", map[string]string{"Host": "evil.example"}), Headers: map[string]string{"Authorization": "Bearer t1", "Host": "evil.example"}}, "token:"},
		{"newline in the token", cachedToken{Token: tok("t1\nHost: evil.example", nil), Headers: map[string]string{"Authorization": "Bearer t1"}}, "token:"},
		{"escape in the token", cachedToken{Token: tok("t1\x1b]0;pwned\x07", nil), Headers: map[string]string{"Authorization": "Bearer t1"}}, "token:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(shortDir(t), "tokenhost")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "x.sock")
			served := fakeDaemon(t, path, answerToken(c.reply))
			var warn bytes.Buffer
			ct, answered, err := askControlAt(t.Context(), path, "corp", "", &warn)
			if answered || err != nil || ct.Token.Value != "" || served.Load() != 1 {
				t.Fatalf("answered %v, err %v, token %q, %d requests: want the reply refused", answered, err, ct.Token.Value, served.Load())
			}
			w := warn.String()
			if !strings.Contains(w, "unusable") || !strings.Contains(w, c.why) || strings.Contains(w, "evil.example") || strings.ContainsAny(w, "\x1b\x07\r") || strings.Count(w, "\n") != 1 {
				t.Errorf("token said %q: want one clean line with %q and no header value", w, c.why)
			}
		})
	}
}

// The daemon's own error reaches the caller as an error; the CLI's error printer drops its escapes.
func TestControlDaemonErrorPrintedWithoutEscapes(t *testing.T) {
	dir := filepath.Join(shortDir(t), "tokenhost")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.sock")
	fakeDaemon(t, path, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "boom \x1b]0;pwned\x07\u202e and\nmore"})
	})
	_, answered, err := askControlAt(t.Context(), path, "corp", "", io.Discard)
	if !answered || err == nil {
		t.Fatalf("answered %v, err %v: want the daemon's error", answered, err)
	}
	var out bytes.Buffer
	printErr(&out, err)
	if got, want := out.String(), "tokenhost: boom ]0;pwned and; more\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}

// peerUID tells the user at the other end of a real socket, and a peer of another uid is refused.
func TestControlPeerCheck(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "pair")
	defer f.Close()
	defer syscall.Close(fds[1])
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if uid, err := peerUID(c); err != nil || uid != os.Getuid() {
		t.Fatalf("peerUID of a socketpair = %d, %v; want %d", uid, err, os.Getuid())
	}
	if err := checkControlPeer(c); err != nil {
		t.Errorf("this user's own peer refused: %v", err)
	}
	var pe *peerError
	if err := samePeer(nobody, 1000); !errors.As(err, &pe) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("samePeer(%d, 1000) = %v: want a refusal naming the uid", nobody, err)
	}
	if err := samePeer(1000, 1000); err != nil {
		t.Errorf("samePeer(1000, 1000) = %v", err)
	}
}
