// Package envpattern matches environment variable names against the patterns of a provider's env: list,
// for the host's plugin environment and `tokenhost run`'s child environment alike.
package envpattern

import "strings"

// Match reports whether name matches one of patterns: an exact name, or a prefix ending in "*"; case is
// ignored (Windows ignores it in variable names).
func Match(name string, patterns []string) bool {
	upper := strings.ToUpper(name)
	for _, p := range patterns {
		p = strings.ToUpper(p)
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(upper, prefix) {
				return true
			}
		} else if upper == p {
			return true
		}
	}
	return false
}
