package config

import (
	"slices"
	"strings"

	"github.com/tokenhost/tokenhost/internal/suggest"
)

// unknownKeys records every key of m that is not in known, suggesting the closest known key.
func (d *decoder) unknownKeys(at string, m map[string]any, known []string) {
	for _, k := range sortedKeys(m) {
		if slices.Contains(known, k) {
			continue
		}
		path := keyPath(at, k)
		if s := suggest.Closest(k, known); s != "" {
			d.p.add(path, "unknown key (did you mean %q?)", s)
		} else {
			d.p.add(path, "unknown key (known keys: %s)", strings.Join(known, ", "))
		}
	}
}
