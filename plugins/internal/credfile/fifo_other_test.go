//go:build !unix

package credfile

import "errors"

// mkfifo fails where there are no named pipes in the file system, and the test using it skips.
func mkfifo(string) error { return errors.ErrUnsupported }
