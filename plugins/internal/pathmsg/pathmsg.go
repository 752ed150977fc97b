// Package pathmsg words file system errors for the built-in plugins' messages, which name the file
// themselves.
package pathmsg

import (
	"errors"
	"io/fs"
	"os"
)

// Reason returns why a file operation failed without the path the error carries ("no such file or
// directory", "permission denied"), so a message can name the file once, in its own words.
func Reason(err error) string {
	if err == nil {
		return "unknown error"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err.Error()
	}
	return err.Error()
}
