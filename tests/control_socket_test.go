//go:build linux || darwin || freebsd

package tests

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// controlRunDir returns a new directory with a short path, fit to hold Unix sockets.
func controlRunDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "th")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Another local user who gets to a socket `tokenhost token` asks first (by making its directory, or
// through a reply of the user's own daemon that was tampered with) cannot make it print their token, an
// extra header line or terminal escape sequences: the real binary refuses the directory or the reply,
// says why on stderr and fetches the token itself, and prints the daemon's errors without control
// characters.
func TestTokenRefusesAControlSocketItCannotTrust(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	// The socket's name is a hash of the configuration: a real serve of it shows which it is.
	good := controlRunDir(t)
	startServe(t, cfg, append(env, "XDG_RUNTIME_DIR="+good))
	socks, _ := filepath.Glob(filepath.Join(good, "tokenhost", "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("serve made control sockets %v, want one", socks)
	}
	name := filepath.Base(socks[0])

	injected := map[string]any{
		"token":   map[string]any{"Value": "ATTACKER-CONTROLLED-TOKEN", "Type": "Bearer"},
		"headers": map[string]string{"Authorization": "Bearer ATTACKER-CONTROLLED-TOKEN", "Host": "evil.example"},
	}
	for _, c := range []struct {
		name     string
		root     bool   // needs root to give the directory to another user
		tmpdir   bool   // no XDG_RUNTIME_DIR: the directory is $TMPDIR/tokenhost-<uid>
		mode     uint32 // of the directory
		reply    any    // what the socket answers (with status 502 when it has "error")
		header   bool   // run with --header
		stderr   string // what stderr must say
		fallback bool   // token fetches its own token (exit 0) rather than failing
		asked    int64  // requests the socket gets
	}{
		{name: "another user's directory in TMPDIR", root: true, tmpdir: true, mode: 0o700, reply: injected, header: true,
			stderr: "belongs to uid 65534", fallback: true},
		{name: "a directory open to others", mode: 0o755, reply: injected,
			stderr: "has mode 0755", fallback: true},
		{name: "a Host line injected through --header", mode: 0o700, header: true, asked: 1, fallback: true,
			reply: map[string]any{
				"token":   map[string]any{"Value": "ATTACKER-CONTROLLED-TOKEN"},
				"headers": map[string]string{"Authorization": "Bearer ATTACKER-CONTROLLED-TOKEN\r\nHost: evil.example"},
			},
			stderr: "unusable"},
		{name: "escape sequences in the daemon's error", mode: 0o700, asked: 1,
			reply:  map[string]string{"error": "\x1b]0;pwned\x07\x1b[2Jno token for corp"},
			stderr: "tokenhost: ]0;pwned[2Jno token for corp\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Getuid() != 0 {
				t.Skip("only root can make a directory another user owns")
			}
			run := controlRunDir(t)
			dir, runEnv := filepath.Join(run, "tokenhost"), []string{"XDG_RUNTIME_DIR=" + run}
			if c.tmpdir {
				dir, runEnv = filepath.Join(run, "tokenhost-"+strconv.Itoa(os.Getuid())), []string{"XDG_RUNTIME_DIR=", "TMPDIR=" + run}
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, os.FileMode(c.mode)); err != nil {
				t.Fatal(err)
			}
			if c.root {
				if err := os.Chown(dir, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			asked := fakeControlSocket(t, filepath.Join(dir, name), c.reply)
			issued := g.idp.Issued()
			args := []string{"token", "corp", "--config", cfg}
			if c.header {
				args = append(args, "--header")
			}
			r := startBackground(t, t.TempDir(), bins.tokenhost, args, append(append(env, runEnv...), "XDG_CACHE_HOME="+t.TempDir())...).wait(t)
			if strings.Contains(r.stdout, "ATTACKER") || strings.Contains(r.stdout, "evil.example") || strings.ContainsAny(r.stdout+r.stderr, "\x1b\x07\r") {
				t.Fatalf("token printed what the socket sent:\n%q\n%q", r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, c.stderr) || asked.Load() != c.asked {
				t.Errorf("stderr %q (want %q), %d requests to the socket (want %d)", r.stderr, c.stderr, asked.Load(), c.asked)
			}
			if c.fallback {
				if r.code != 0 || g.idp.Issued() != issued+1 || !strings.Contains(r.stderr, "fetching the token here") {
					t.Errorf("want a token fetched here (%d issued before, %d after)\n%s", issued, g.idp.Issued(), r)
				}
				if c.stderr != "unusable" && (!strings.Contains(r.stderr, dir) || !strings.Contains(r.stderr, "XDG_RUNTIME_DIR")) {
					t.Errorf("stderr %q: want the directory and the fix", r.stderr)
				}
			} else if r.code == 0 || g.idp.Issued() != issued {
				t.Errorf("want the daemon's error and no token\n%s", r)
			}
		})
	}
}

// fakeControlSocket answers every request on a Unix socket at path with reply (status 502 when it holds
// an "error"), as a program of another user's would; it returns how many requests reached it.
func fakeControlSocket(t *testing.T, path string, reply any) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		if m, ok := reply.(map[string]string); ok && m["error"] != "" {
			w.WriteHeader(http.StatusBadGateway)
		}
		_ = json.NewEncoder(w).Encode(reply)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &n
}
