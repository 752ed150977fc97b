package core

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// launch is how to start one plugin process.
type launch struct {
	cmd      *exec.Cmd
	checksum []byte // when set, go-plugin checks the executable against it once more before running it
	cleanup  func() // removes the private copy of a pinned plugin; nil when there is none
}

// verifyExecutable checks that path is a regular executable file that no other user can change (neither
// it nor its directory is group- or world-writable, see checkOwnership). Without a pin (want == "") it
// returns a command running path. With one it copies the file, hashing it on the way, into a private
// 0700 directory and returns a command running the copy: the bytes that run are exactly the bytes whose
// SHA-256 was checked, whatever happens to path afterwards.
func verifyExecutable(provider, path, want string) (*launch, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, keyErrorf(provider, "plugin", "%s: %w", path, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, keyErrorf(provider, "plugin", "%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return nil, keyErrorf(provider, "plugin", "%s is not executable (chmod +x it)", path)
	}
	if err := checkNotWritableByOthers(provider, path, fi); err != nil {
		return nil, err
	}
	if want == "" {
		return &launch{cmd: exec.Command(path)}, nil
	}
	return pinnedCopy(provider, path, strings.ToLower(want))
}

// checkNotWritableByOthers refuses a plugin executable, or the directory holding it, that is group- or
// world-writable (a directory with the sticky bit, such as /tmp, only lets others add files, so it
// passes) or owned by another user than this one or root.
func checkNotWritableByOthers(provider, path string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return keyErrorf(provider, "plugin", "%s is writable by other users (mode %s), so anyone could replace the plugin; run chmod go-w on it", path, fi.Mode().Perm())
	}
	if err := checkOwner(provider, path, fi); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return keyErrorf(provider, "plugin", "%s: %w", dir, errors.Unwrap(err))
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
		return keyErrorf(provider, "plugin", "the directory %s is writable by other users (mode %s), so anyone could replace the plugin; run chmod go-w on it or move the plugin", dir, di.Mode().Perm())
	}
	return checkOwner(provider, dir, di)
}

// pinnedCopy copies the plugin at path into a new private directory while hashing it, and returns a
// launch of the copy when the hash is want.
func pinnedCopy(provider, path, want string) (*launch, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, keyErrorf(provider, "plugin", "%w", err)
	}
	defer src.Close()
	dir, err := os.MkdirTemp("", "tokenhost-plugin-") // mode 0700
	if err != nil {
		return nil, providerErrorf(provider, "cannot create a private directory for the pinned plugin %s: %w", path, err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	dst := filepath.Join(dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		cleanup()
		return nil, providerErrorf(provider, "cannot copy the pinned plugin %s: %w", path, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(h, out), src)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, keyErrorf(provider, "plugin", "reading %s: %w", path, err)
	}
	sum := h.Sum(nil)
	if got := hex.EncodeToString(sum); got != want {
		cleanup()
		return nil, keyErrorf(provider, "sha256", "%s has sha256 %s, but the config pins %s; refusing to run it", path, got, want)
	}
	return &launch{cmd: exec.Command(dst), checksum: sum, cleanup: cleanup}, nil
}
