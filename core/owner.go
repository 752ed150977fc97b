package core

import (
	"os"

	"github.com/tokenhost/tokenhost/internal/fileowner"
)

// checkOwner refuses a plugin file or directory owned by a user other than this one or root: its owner
// could change it whatever its mode says. Where files have no owner uid it checks nothing; the mode
// checks still apply.
func checkOwner(provider, path string, fi os.FileInfo) error {
	if uid, known := fileowner.Of(fi); known && uid != 0 && uid != os.Getuid() {
		return keyErrorf(provider, "plugin", "%s belongs to another user (uid %d), who could replace the plugin; install it as yourself or root", path, uid)
	}
	return nil
}
