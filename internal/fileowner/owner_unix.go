//go:build unix

// Package fileowner tells which user owns a file, where the platform has owner uids: the one lookup behind
// every check that refuses files and directories another user could change (configurations, plugins,
// stored sign-ins, the token cache, the control socket).
package fileowner

import (
	"io/fs"
	"syscall"
)

// Of returns the uid owning the file fi describes; known is false where the platform has no owner uid.
func Of(fi fs.FileInfo) (uid int, known bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), true
	}
	return -1, false
}
