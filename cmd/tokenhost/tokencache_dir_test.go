//go:build linux || darwin || freebsd

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// A token cache whose directory another user can write is neither read nor written: a token planted
// there is not served, a symbolic link planted at a cache file's name does not make a cache write replace
// the file it names, and the helper's lock fails naming the directory and the fix. A cache of the user's
// own still works.
func TestTokenCacheRefusesSharedDirectories(t *testing.T) {
	base := t.TempDir()
	c := tokenCache{dir: filepath.Join(base, "tokenhost", "tokens")}
	pc := &config.Provider{Name: "corp", Plugin: "gateway", RefreshBefore: 5 * time.Minute}
	issued := time.Now()
	ct := cachedToken{Token: sdk.Token{Value: "tok-alice", Expiry: issued.Add(time.Hour)}, Issued: issued, Salt: "00", Sum: identitySum(nil, []byte{0}, os.Environ())}
	if err := c.put(pc, ct); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.get(pc, issued.Add(time.Second)); !ok || got.Token.Value != "tok-alice" {
		t.Fatal("a cache of the user's own does not serve its token")
	}

	// Another user makes the tokens directory writable by all (as a pre-planted /tmp/tokenhost would be)
	// and leaves a link where the next write goes.
	if err := os.Chmod(c.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.get(pc, issued.Add(time.Second)); ok {
		t.Error("a token in a directory others can write is served")
	}
	victim := filepath.Join(t.TempDir(), "bashrc")
	if err := os.WriteFile(victim, []byte("export PATH\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(c.path(pc)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, c.path(pc)); err != nil {
		t.Fatal(err)
	}
	err := c.put(pc, ct)
	if err == nil || !strings.Contains(err.Error(), c.dir) || !strings.Contains(err.Error(), "XDG_CACHE_HOME") {
		t.Errorf("a write into a directory others can write gives %v, want an error naming %s and XDG_CACHE_HOME", err, c.dir)
	}
	if data, _ := os.ReadFile(victim); string(data) != "export PATH\n" {
		t.Errorf("a cache write replaced the file a planted link names (%d bytes now)", len(data))
	}
	if _, err := c.lock(context.Background(), pc, time.Second); err == nil {
		t.Error("the helper's lock is taken in a directory others can write")
	}

	// The same for a tokenhost directory of another user.
	if err := os.Chmod(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Dir(c.dir), 4242, 4242); err != nil {
		t.Skipf("cannot give a directory to another user here: %v", err)
	}
	if err := c.update(pc, map[string]any{"helper": helperRecord{Runs: 1}}); err == nil || !strings.Contains(err.Error(), "uid 4242") {
		t.Errorf("a write under another user's directory gives %v, want an error naming uid 4242", err)
	}
}
