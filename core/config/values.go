package config

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tokenhost/tokenhost/sdk/optval"
)

// mapping returns v as a mapping; null is an empty mapping. Anything else is recorded as a problem.
func (d *decoder) mapping(at string, v any) (map[string]any, bool) {
	switch m := v.(type) {
	case nil:
		return map[string]any{}, true
	case map[string]any:
		return m, true
	}
	d.p.add(at, "must be a mapping, got %s", typeName(v))
	return nil, false
}

// str returns v as a string; other scalars are an error (quoting them in YAML makes them strings).
func (d *decoder) str(at string, v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case nil:
		return "", true
	case map[string]any, []any:
		d.p.add(at, "must be a string, got %s", typeName(v))
	default:
		d.p.add(at, "must be a string, got %s (put it in quotes)", typeName(v))
	}
	return "", false
}

// strList returns v as a list of strings; null is an empty list.
func (d *decoder) strList(at string, v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	l, ok := v.([]any)
	if !ok {
		d.p.add(at, "must be a list of strings, got %s", typeName(v))
		return nil, false
	}
	out := make([]string, 0, len(l))
	ok = true
	for i, e := range l {
		s, isStr := e.(string)
		if !isStr {
			d.p.add(index(at, i), "must be a string, got %s", typeName(e))
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// integer returns v as a whole number, accepting numeric strings (as environment overrides give).
func (d *decoder) integer(at string, v any) (int64, bool) {
	if n, ok := toInt(v); ok {
		return n, true
	}
	d.p.add(at, "must be a whole number, got %s", valueText(v))
	return 0, false
}

// toInt converts a YAML number or numeric string to int64 when it is a whole number in range.
func toInt(v any) (int64, bool) {
	n, err := optval.Int(v)
	return n, err == nil
}

// statuses returns v as a list of HTTP status codes (100-599).
func (d *decoder) statuses(at string, v any) ([]int, bool) {
	l, ok := v.([]any)
	if !ok {
		d.p.add(at, "must be a list of HTTP status codes such as [401, 403], got %s", typeName(v))
		return nil, false
	}
	out := make([]int, 0, len(l))
	ok = true
	for i, e := range l {
		n, isInt := toInt(e)
		if !isInt || n < 100 || n > 599 {
			d.p.add(index(at, i), "must be an HTTP status code (100-599), got %s", valueText(e))
			ok = false
			continue
		}
		out = append(out, int(n))
	}
	return out, ok
}

// duration returns v as a duration (see optval.Duration). Absent or null gives def; zero is accepted only
// when zeroOK.
func (d *decoder) duration(at string, v any, def time.Duration, zeroOK bool) time.Duration {
	if v == nil {
		return def
	}
	dur, err := optval.Duration(v)
	switch {
	case err != nil:
		d.p.add(at, "%s", err)
	case dur == 0 && !zeroOK:
		d.p.add(at, "must be longer than zero, got %s", valueText(v))
	default:
		return dur
	}
	return def
}

// size returns v as a byte count (see optval.Size); absent or null gives def.
func (d *decoder) size(at string, v any, def int64) int64 {
	if v == nil {
		return def
	}
	n, err := optval.Size(v)
	if err != nil {
		d.p.add(at, "%s", err)
		return def
	}
	return n
}

// typeName names the YAML type of v for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing (null)"
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case int, int64, uint64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case time.Time:
		return "a timestamp"
	}
	return fmt.Sprintf("%T", v)
}

// valueText shows a scalar for a message (quoted and shortened), or names the type of anything else.
func valueText(v any) string {
	switch t := v.(type) {
	case string:
		return quote(t)
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(t)
	}
	return typeName(v)
}

// quote quotes s for a message, shortening long values.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// index returns the path of element i of the list at.
func index(at string, i int) string { return fmt.Sprintf("%s[%d]", at, i) }
