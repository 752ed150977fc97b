//go:build unix

package core

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeScript(t *testing.T, path, says string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho "+says+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to the umask
		t.Fatal(err)
	}
}

// A pinned plugin swapped on disk after its hash was checked: the bytes that run are the checked ones.
func TestPinnedPluginRunsTheHashedBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin")
	writeScript(t, path, "hashed", 0o755)
	data, _ := os.ReadFile(path)
	sum := sha256.Sum256(data)
	l, err := verifyExecutable("p", path, hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	writeScript(t, path, "swapped", 0o755) // the attacker's swap, between the check and the start
	out, err := l.cmd.Output()
	if err != nil {
		t.Fatalf("running the pinned plugin: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "hashed" {
		t.Fatalf("the pinned plugin printed %q: the swapped file ran, not the hashed bytes", got)
	}
	if l.cleanup == nil {
		t.Fatal("no cleanup for the private copy")
	}
	dir := filepath.Dir(l.cmd.Path)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the private copy's directory: %v %v, want mode 0700", fi, err)
	}
	l.cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the private copy survived its cleanup: %v", err)
	}
}

// A plugin that another user could replace is refused: the file or its directory is group- or
// world-writable (a sticky directory such as /tmp passes).
func TestPluginWritableByOthersIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dir, file os.FileMode
		want      string // "" = accepted
	}{
		{"private", 0o700, 0o755, ""},
		{"group-writable file", 0o700, 0o775, "writable by other users"},
		{"world-writable file", 0o700, 0o757, "writable by other users"},
		{"world-writable directory", 0o777, 0o755, "directory"},
		{"group-writable directory", 0o770, 0o755, "directory"},
		{"sticky world-writable directory", 0o777 | os.ModeSticky, 0o755, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "plugin")
			writeScript(t, path, "x", tc.file)
			if err := os.Chmod(dir, tc.dir); err != nil {
				t.Fatal(err)
			}
			_, err := verifyExecutable("p", path, "")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "chmod go-w")):
				t.Fatalf("err = %v, want a refusal mentioning %q and the fix", err, tc.want)
			}
		})
	}
}
