package credfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteAtomicReplacesWith0600(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(path, []byte(`{"old":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(path, []byte(`{"new":true}`), nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(got) != `{"new":true}` || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v, want the new content at 0600", got, fi.Mode().Perm())
	}
	assertOnlyFiles(t, dir, "creds.json")
}

// A crash between writing the temporary file and renaming it leaves the original byte for byte, and no
// temporary file behind.
func TestWriteAtomicFailureKeepsOriginal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.json")
	orig := []byte(`{"refresh_token":"still-valid"}`)
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("killed")
	var sawTmp string
	err := WriteAtomic(path, []byte(`{"refresh_token":"rotated"}`), func(tmp string) error {
		sawTmp = tmp
		if data, _ := os.ReadFile(tmp); string(data) != `{"refresh_token":"rotated"}` {
			t.Errorf("the temporary file holds %q before the rename", data)
		}
		return crash
	})
	if !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(orig) {
		t.Fatalf("original became %q", got)
	}
	if filepath.Dir(sawTmp) != dir {
		t.Fatalf("temporary file %s is not in the file's directory (rename would not be atomic)", sawTmp)
	}
	assertOnlyFiles(t, dir, "creds.json")
}

// A symlinked credential file stays a link; its target gets the new content.
func TestWriteAtomicFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "link.json")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(link, []byte("new"), nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Fatalf("target holds %q", got)
	}
}

func TestLockExcludesAndTimesOut(t *testing.T) {
	lockPath := LockPath(filepath.Join(t.TempDir(), "creds.json"))
	unlock, err := Lock(context.Background(), lockPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// flock(2) conflicts between open file descriptions, even within one process.
	if _, err := Lock(context.Background(), lockPath, 30*time.Millisecond); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second lock while held: err = %v, want ErrLockTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Lock(ctx, lockPath, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}
	unlock()
	unlock2, err := Lock(context.Background(), lockPath, time.Second)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
	if fi, err := os.Stat(lockPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v, want mode 0600", fi, err)
	}
}

func TestReadLimitedRefusesNonFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadLimited(dir); !errors.Is(err, ErrIsDir) {
		t.Fatalf("directory: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	// Opening a FIFO would block with no writer; ReadLimited must refuse it before opening.
	if _, err := ReadLimited(fifo); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("fifo: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	var p *Problem
	if _, err := ReadLimited(big); !errors.As(err, &p) {
		t.Fatalf("oversized: %v", err)
	}
}

func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(names) {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Fatalf("directory holds %v, want only %v", got, names)
	}
}

func TestOptString(t *testing.T) {
	doc, err := ParseObject([]byte(`{"s": "v", "null": null, "n": 5, "o": {"x": "secret-looking"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"s": "v", "null": "", "absent": ""} {
		if got, err := OptString(doc, key); err != nil || got != want {
			t.Errorf("OptString(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, key := range []string{"n", "o"} {
		_, err := OptString(doc, key)
		var p *Problem
		if !errors.As(err, &p) || p.Reauth || p.Error() != "has a "+key+" field that is not a string" {
			t.Errorf("OptString(%q) = %v; want a Problem naming the key and quoting nothing", key, err)
		}
	}
}
