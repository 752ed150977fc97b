// Package optcheck holds the option checks the built-in plugins share: options that only some modes
// (credential kinds, sources) read, and durations that must be positive.
package optcheck

import (
	"slices"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// Modes maps an option to the modes that read it; an option it does not list is read in every mode.
type Modes map[string][]string

// ByMode turns a list of the options each mode reads into Modes; modes gives the order in which the modes
// of an option are listed.
func ByMode(perMode map[string][]string, modes []string) Modes {
	m := Modes{}
	for _, mode := range modes {
		for _, opt := range perMode[mode] {
			m[opt] = append(m[opt], mode)
		}
	}
	return m
}

// Unused returns the first option of known (in known's order) that o sets but mode does not read, with the
// modes that do read it, so that a setting is never silently ignored; key is "" when every option o sets
// applies to mode. An option whose value is nil counts as not set.
func (m Modes) Unused(o map[string]any, known []string, mode string) (key string, readBy []string) {
	for _, k := range known {
		modes, limited := m[k]
		if limited && o[k] != nil && !slices.Contains(modes, mode) {
			return k, modes
		}
	}
	return "", nil
}

// PositiveDuration returns the duration option key (def when it is not set) and refuses one that is not
// greater than zero.
func PositiveDuration(o sdk.Options, key string, def time.Duration) (time.Duration, error) {
	d, err := o.Duration(key, def)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, sdk.BadConfig(key, "must be greater than zero, e.g. %s", def)
	}
	return d, nil
}
