// Package homedir expands a leading ~ in a path a user wrote, by one rule for the host's configuration
// and the built-in plugins' options alike.
package homedir

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Expand replaces a leading ~ in p with the home directory that home returns: "~" alone, "~/…" and, on
// Windows, `~\…`. "~user/…" is not expanded (no other user's home directory is looked up) and is an error
// that says so, as is a ~ when home fails or returns "". home is called only for a path that starts with
// ~; any other path is returned as it is.
func Expand(p string, home func() (string, error)) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	rest := p[1:]
	if rest != "" && rest[0] != '/' && rest[0] != filepath.Separator {
		name := rest
		if i := strings.IndexAny(rest, "/"+string(filepath.Separator)); i >= 0 {
			name = rest[:i]
		}
		return "", fmt.Errorf("only a leading ~/ is expanded, not ~%s (write the full path)", name)
	}
	dir, err := home()
	if err == nil && dir == "" {
		err = errors.New("the home directory is unknown")
	}
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %w", err)
	}
	return filepath.Join(dir, rest), nil
}
