package config

import "golang.org/x/sys/unix"

// readOnlyMount reports whether path is on a file system mounted read-only, where no one can write
// whatever the mode bits say.
func readOnlyMount(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}
