package sdk

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/suggest"
	"github.com/tokenhost/tokenhost/sdk/optval"
)

// Options is a provider's options block with typed accessors that report errors as BadConfig with the key.
type Options map[string]any

// String returns the string at key, or def when absent; a value of another type is a BadConfig error.
func (o Options) String(key, def string) (string, error) {
	v, ok := o[key]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", BadConfig(key, "must be a string, got %s", typeName(v))
	}
	return s, nil
}

// Strings returns the list of strings at key; a single string is taken as a one-element list.
func (o Options) Strings(key string) ([]string, error) {
	v, ok := o[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []string:
		return t, nil
	case []any:
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, BadConfig(fmt.Sprintf("%s[%d]", key, i), "must be a string, got %s", typeName(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, BadConfig(key, "must be a list of strings, got %s", typeName(v))
}

// StringMap returns the string-to-string mapping at key.
func (o Options) StringMap(key string) (map[string]string, error) {
	v, ok := o[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, BadConfig(key, "must be a mapping of names to strings, got %s", typeName(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch s := e.(type) {
		case string:
			out[k] = s
		case float64, int, int64, bool:
			out[k] = fmt.Sprint(s)
		default:
			return nil, BadConfig(key+"."+k, "must be a string, got %s", typeName(e))
		}
	}
	return out, nil
}

// Duration returns the duration at key, or def when absent: Go duration text ("30s", "5m", "1h30m") or a
// number of seconds (45, 0.5, "45"), parsed by optval.Duration as the host's configuration is. A negative
// or malformed value is a BadConfig error.
func (o Options) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := o[key]
	if !ok || v == nil {
		return def, nil
	}
	d, err := optval.Duration(v)
	if err != nil {
		return 0, BadConfig(key, "%s", err)
	}
	return d, nil
}

// Bool returns the boolean at key, or def when absent.
func (o Options) Bool(key string, def bool) (bool, error) {
	v, ok := o[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, BadConfig(key, "must be true or false, got %s", typeName(v))
	}
	return b, nil
}

// Unknown returns a BadConfig error for the first key of o not in known (sorted for stable messages).
func (o Options) Unknown(known ...string) error {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, kn := range known {
			if k == kn {
				found = true
				break
			}
		}
		if !found {
			msg := "unknown option"
			if s := suggest.Closest(k, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += "; known: " + strings.Join(known, ", ")
			}
			return BadConfig(k, "%s", msg)
		}
	}
	return nil
}

// typeName names the kind of an option value for messages.
func typeName(v any) string { return optval.TypeName(v) }
