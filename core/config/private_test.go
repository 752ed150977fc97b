//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// chmod sets path's mode exactly (the umask does not apply) or fails the test.
func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// wantRefused fails the test unless err names what others can write and the chmod that fixes it.
func wantRefused(t *testing.T, what string, err error, hint string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "writable by other users") || !strings.Contains(err.Error(), hint) {
		t.Errorf("%s: want a refusal with %q, got %v", what, hint, err)
	}
}

// A configuration file others can change is refused wherever it comes from, named or searched.
func TestConfigOthersCanWriteIsRefused(t *testing.T) {
	e, env := trustEnv(t)
	load := func(s Sources) error {
		s.Builtins = builtins
		_, err := Load(s)
		return err
	}

	named := writeFile(t, e.root, "named/tokenhost.yaml", workDirConfig)
	chmod(t, named, 0o664)
	wantRefused(t, "group-writable --config", load(Sources{File: named, Environ: env}), "chmod go-w "+named)
	wantRefused(t, "group-writable TOKENHOST_CONFIG", load(Sources{Environ: append(env, "TOKENHOST_CONFIG="+named)}), "chmod go-w "+named)
	chmod(t, named, 0o644)
	if err := load(Sources{File: named, Environ: env}); err != nil {
		t.Fatalf("after chmod go-w: %v", err)
	}

	xdg := writeFile(t, e.xdg, "tokenhost/tokenhost.yaml", workDirConfig)
	chmod(t, xdg, 0o646)
	wantRefused(t, "world-writable user file", load(Sources{Environ: env, Dir: e.root}), "chmod go-w "+xdg)
	chmod(t, xdg, 0o600)

	open := filepath.Join(e.root, "open")
	p := writeFile(t, open, "tokenhost.yaml", workDirConfig)
	chmod(t, open, 0o777)
	wantRefused(t, "world-writable directory", load(Sources{File: p, Environ: env}), "chmod go-w "+open)
	// A symlink from a private directory does not hide the directory of its target.
	link := filepath.Join(e.root, "named", "link.yaml")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "symlink into a world-writable directory", load(Sources{File: link, Environ: env}), "chmod go-w "+open)
	// With the sticky bit (as /tmp) others cannot replace the user's file.
	chmod(t, open, 0o777|os.ModeSticky)
	if err := load(Sources{File: p, Environ: env}); err != nil {
		t.Errorf("sticky world-writable directory: %v", err)
	}

	// The working-directory file is checked before its trust: a trusted file others can write is refused.
	writeFile(t, e.wd, "tokenhost.yaml", workDirConfig)
	s := Sources{Environ: env, Dir: e.wd}
	if _, _, err := Trust(s, ""); err != nil {
		t.Fatal(err)
	}
	chmod(t, e.wd, 0o775)
	wantRefused(t, "group-writable working directory", load(s), "chmod go-w "+e.wd)
	_, _, err := Trust(s, "")
	wantRefused(t, "trusting a file others can replace", err, "chmod go-w "+e.wd)
	chmod(t, e.wd, 0o755)

	store, _ := TrustStore(s)
	chmod(t, store, 0o666)
	wantRefused(t, "world-writable trust store", load(s), "chmod go-w "+store)
	chmod(t, store, 0o600)
	if err := load(s); err != nil {
		t.Fatalf("after chmod go-w on the trust store: %v", err)
	}
}

// A configuration another user owns is refused (root's files pass: root can change anything anyway).
func TestConfigOfAnotherUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "tokenhost.yaml", workDirConfig)
	if err := os.Chown(p, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Sources{File: p, Builtins: builtins})
	if err == nil || !strings.Contains(err.Error(), "belongs to another user (uid 4242)") || !strings.Contains(err.Error(), "chown 0 "+p) {
		t.Errorf("a file of uid 4242: %v", err)
	}
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, err = Load(Sources{File: p, Builtins: builtins})
	if err == nil || !strings.Contains(err.Error(), dir+" belongs to another user") {
		t.Errorf("a directory of uid 4242: %v", err)
	}
}

// A named pipe found by the search is refused rather than read (the read would block for ever).
func TestSearchedPipeIsRefused(t *testing.T) {
	e, env := trustEnv(t)
	if err := os.MkdirAll(e.wd, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.wd, FileName)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("cannot make a named pipe: %v", err)
	}
	_, err := Load(Sources{Environ: env, Dir: e.wd, Builtins: builtins})
	if err == nil || !strings.Contains(err.Error(), p+": is not a regular file") {
		t.Errorf("a named pipe as ./tokenhost.yaml: %v", err)
	}
}
