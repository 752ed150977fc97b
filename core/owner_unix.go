//go:build unix

package core

import (
	"os"
	"syscall"
)

// checkOwner refuses a plugin file or directory owned by a user other than this one or root: its owner
// could change it whatever its mode says.
func checkOwner(provider, path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := int(st.Uid); uid != 0 && uid != os.Getuid() {
		return keyErrorf(provider, "plugin", "%s belongs to another user (uid %d), who could replace the plugin; install it as yourself or root", path, uid)
	}
	return nil
}
