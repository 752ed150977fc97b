//go:build !unix

package config

import "io/fs"

// checkPrivate does nothing where files have no Unix owner and mode bits (Windows: access is decided by
// ACLs, which tokenhost does not read).
func checkPrivate(string, fs.FileInfo, string) error { return nil }

// checkPrivateDir does nothing where directories have no Unix owner and mode bits.
func checkPrivateDir(string, string) error { return nil }
