//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/internal/fileowner"
	"github.com/tokenhost/tokenhost/internal/fsmsg"
)

// checkPrivate refuses the file at path (fi describes the open file) when a user other than this one or
// root could change it: the file is group- or world-writable or another user's, or the directory holding
// it (and, for a symlink, the directory holding its target) is writable by others or another user's. A
// directory with the sticky bit, such as /tmp, only lets others add files of their own, so it passes; so
// does anything on a read-only mount, whatever its mode says (a Kubernetes ConfigMap volume is 0777 but
// mounted read-only). what names the file in errors ("the configuration").
func checkPrivate(path string, fi fs.FileInfo, what string) error {
	if fi.Mode().Perm()&0o022 != 0 && !readOnlyMount(path) {
		return fmt.Errorf("%s is writable by other users (mode %s), so anyone could change %s; run chmod go-w %s", path, fi.Mode().Perm(), what, path)
	}
	if err := checkOwner(path, fi, what); err != nil {
		return err
	}
	dirs := []string{filepath.Dir(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, dir := range dirs {
		if err := checkPrivateDir(dir, what); err != nil {
			return err
		}
	}
	return nil
}

// checkPrivateDir refuses the directory dir when another user could add or replace files in it: it is
// group- or world-writable without the sticky bit (and not on a read-only mount), or another user's.
func checkPrivateDir(dir, what string) error {
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, fsmsg.Cause(err))
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 && !readOnlyMount(dir) {
		return fmt.Errorf("the directory %s is writable by other users (mode %s), so anyone could replace %s; run chmod go-w %s, or move the file to a directory of your own", dir, di.Mode().Perm(), what, dir)
	}
	return checkOwner(dir, di, what)
}

// checkOwner refuses a file or directory owned by a user other than this one or root: its owner could
// change it whatever its mode says.
func checkOwner(path string, fi fs.FileInfo, what string) error {
	if uid, known := fileowner.Of(fi); known && uid != 0 && uid != os.Getuid() {
		return fmt.Errorf("%s belongs to another user (uid %d), who could change %s; run sudo chown %d %s, or copy the file to one of your own", path, uid, what, os.Getuid(), path)
	}
	return nil
}
