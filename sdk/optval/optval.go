// Package optval parses the scalar values of configuration and plugin options — durations, byte sizes and
// whole numbers — the same way for the host's configuration file and for sdk.Options, whether a value
// arrives as YAML text, a YAML number, an environment variable's string or a number decoded from JSON.
//
// Errors say what the value must be and show the value given (shortened); they name no key, so callers
// prefix the key path. Use errors.Is with ErrInvalid or ErrNegative to tell the two failures apart.
package optval

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error for a value that is not of the expected form.
var ErrInvalid = errors.New("invalid value")

// ErrNegative is wrapped by every error for a value of the right form that is below zero.
var ErrNegative = errors.New("negative value")

// valueError is a message about a value that unwraps to ErrInvalid or ErrNegative.
type valueError struct {
	msg  string
	kind error
}

// Error returns the message, which names no key.
func (e *valueError) Error() string { return e.msg }

// Unwrap returns ErrInvalid or ErrNegative.
func (e *valueError) Unwrap() error { return e.kind }

// invalid returns an ErrInvalid error "<want>, got <value>".
func invalid(want string, v any) error {
	return &valueError{msg: want + ", got " + Text(v), kind: ErrInvalid}
}

// negative returns an ErrNegative error for v.
func negative(v any) error {
	return &valueError{msg: "must not be negative, got " + Text(v), kind: ErrNegative}
}

// Duration parses v as a duration: Go duration text such as "30s", "5m" or "1h30m", or a number of seconds
// given as a number (45, 0.5) or as numeric text ("45"). Negative, NaN and out-of-range values are errors.
func Duration(v any) (time.Duration, error) {
	const want = "must be a duration such as 30s, 5m or 1h30m (or a number of seconds)"
	secs := 0.0
	switch t := v.(type) {
	case string:
		s := strings.TrimSpace(t)
		if d, err := time.ParseDuration(s); err == nil {
			if d < 0 {
				return 0, negative(v)
			}
			return d, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, invalid(want, v)
		}
		secs = f
	case int:
		secs = float64(t)
	case int64:
		secs = float64(t)
	case uint64:
		secs = float64(t)
	case float64:
		secs = t
	default:
		return 0, invalid(want, v)
	}
	if math.IsNaN(secs) || math.Abs(secs) >= math.MaxInt64/float64(time.Second) {
		return 0, invalid(want, v)
	}
	if secs < 0 {
		return 0, negative(v)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// Size parses v as a byte count: a whole number, or text with an optional unit as parseSize accepts ("16MiB", "512KiB", "10MB", "1.5GiB").
// Negative numbers are errors.
func Size(v any) (int64, error) {
	const want = "must be a size such as 16MiB, 512KiB, 10MB or a number of bytes"
	var (
		n  int64
		ok bool
	)
	if s, isStr := v.(string); isStr {
		n, ok = parseSize(s)
	} else {
		n, ok = wholeNumber(v)
	}
	switch {
	case !ok:
		return 0, invalid(want, v)
	case n < 0:
		return 0, negative(v)
	}
	return n, nil
}

// Int parses v as a whole number: an integer, a float without a fraction (as JSON gives numbers), or
// decimal text such as "42" (as environment variables give them).
func Int(v any) (int64, error) {
	n, ok := wholeNumber(v)
	if !ok {
		return 0, invalid("must be a whole number", v)
	}
	return n, nil
}

// wholeNumber converts a number or decimal text to int64 when it is a whole number in range.
func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

// TypeName names the kind of a decoded YAML or JSON value for a message: "a string", "a number", "a list",
// "a mapping", "a boolean", "a timestamp" or "nothing (null)".
func TypeName(v any) string {
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

// Text shows a value for a message: a string quoted and shortened to 64 bytes, a number or boolean as
// written, anything else by its TypeName.
func Text(v any) string {
	switch t := v.(type) {
	case string:
		const max = 64
		if len(t) > max {
			return strconv.Quote(t[:max]) + "..."
		}
		return strconv.Quote(t)
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(t)
	}
	return TypeName(v)
}
