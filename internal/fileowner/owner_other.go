//go:build !unix

package fileowner

import "io/fs"

// Of returns the uid owning the file fi describes; known is false where the platform has no owner uid.
func Of(fs.FileInfo) (uid int, known bool) { return -1, false }
