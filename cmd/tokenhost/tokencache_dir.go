package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/internal/fileowner"
)

// checkDirs returns nil when no other user can add, replace or redirect the cache's files: the cache's
// base ($XDG_CACHE_HOME or ~/.cache) is this user's or root's and writable by others only with the sticky
// bit (as /tmp), and tokenhost's own directories under it (tokenhost, tokens, locks), where they exist, are
// this user's and writable by no one else. Another user's file or symbolic link there could hand a
// caller a token of theirs, or have a cache write replace a file the link names. Where the platform
// cannot tell a file's owner, it checks nothing.
func (c tokenCache) checkDirs() error {
	if c.dir == "" {
		return nil
	}
	own := filepath.Dir(c.dir)
	for i, dir := range []string{filepath.Dir(own), own, c.dir, filepath.Join(own, "locks")} {
		st, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot check the token cache directory %s: %w; set XDG_CACHE_HOME to a directory of your own", dir, err)
		}
		uid, known := fileowner.Of(st)
		if !known {
			return nil
		}
		shared := i == 0 && st.Mode()&fs.ModeSticky != 0
		var problem string
		switch {
		case !st.IsDir():
			problem = "is not a directory"
		case uid != os.Getuid() && (i > 0 || uid != 0):
			problem = fmt.Sprintf("belongs to uid %d, not to you (uid %d)", uid, os.Getuid())
		case st.Mode().Perm()&0o022 != 0 && !shared:
			problem = fmt.Sprintf("is writable by other users (mode %04o)", st.Mode().Perm())
		default:
			continue
		}
		return fmt.Errorf("the token cache directory %s %s, so another user could plant tokens or links there; "+
			"remove it (rm -r %s, as root if another user owns it) or set XDG_CACHE_HOME to a directory of your own with mode 0700",
			dir, problem, dir)
	}
	return nil
}
