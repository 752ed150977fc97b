// Package fsmsg words file system errors for messages that name the file themselves: the host's and the
// built-in plugins' alike.
package fsmsg

import (
	"errors"
	"io/fs"
	"os"
)

// Cause returns why a file operation failed without the operation and path the error carries (the error
// inside a *fs.PathError or *os.LinkError, e.g. syscall.ENOENT), so a message can name the file once, in
// its own words, and still wrap the cause; any other error is returned as it is.
func Cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// Reason is Cause as text ("no such file or directory", "permission denied"), "unknown error" for nil.
func Reason(err error) string {
	if err == nil {
		return "unknown error"
	}
	return Cause(err).Error()
}
