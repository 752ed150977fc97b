// Package atomicfile replaces files so that a reader, or a crash, sees the old contents or the new, never
// a mix: what credential files (auth.json, stored sign-ins) and tokenhost's own caches need.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces the file at path with data: a temporary file in the same directory is written, set
// to mode 0600 and synced, beforeRename (a test hook for injecting a crash; nil outside tests) runs with its
// name, it is renamed over path, and the directory is synced. A symlink at path is followed, so the link
// stays a link. On failure the original is untouched and no temporary file remains.
func Write(path string, data []byte, beforeRename func(tmp string) error) (err error) {
	if real, rerr := filepath.EvalSymlinks(path); rerr == nil {
		path = real
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tokenhost-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if beforeRename != nil {
		if err = beforeRename(tmp); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // durability of the rename; not every file system supports it
		_ = d.Close()
	}
	return nil
}
