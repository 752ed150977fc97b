package cooldown

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// number reads v, a decimal number with an optional sign and fraction ("12", "0.5", "-3"), as that many
// units; a negative number is no delay, and one beyond MaxCooldown is cut to it. ok is false when v is not
// such a number.
func number(v string, unit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if !decimal(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false // only a range error is left here, and no finite delay that large exists
	}
	return scale(f, unit), true
}

// decimal reports whether v is an optional sign, digits, and at most one '.', with at least one digit,
// and no longer than maxValue: the numbers strconv.ParseFloat reads, minus its exponents, hex, infinities
// and NaN.
func decimal(v string) bool {
	if len(v) == 0 || len(v) > maxValue {
		return false
	}
	if v[0] == '+' || v[0] == '-' {
		v = v[1:]
	}
	digits, dots := 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// scale converts f units into a delay: 0 for a negative (or NaN) f, MaxCooldown at most.
func scale(f float64, unit time.Duration) time.Duration {
	ns := f * float64(unit)
	switch {
	case !(ns > 0): // also NaN
		return 0
	case ns >= float64(MaxCooldown):
		return MaxCooldown
	}
	return time.Duration(ns)
}

// units are the suffixes of a duration the way Go prints and parses them.
var units = []struct {
	suffix string
	unit   time.Duration
}{
	{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"µs", time.Microsecond}, {"μs", time.Microsecond},
	{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
}

// duration reads v, a duration the way Go writes them ("1s", "6m0s", "20ms", "1m30.5s", "-2s") or a bare
// number of seconds, as a delay: a negative one is none, one beyond MaxCooldown is cut to it (where
// time.ParseDuration would fail on overflow). ok is false when v is neither.
func duration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if len(v) == 0 || len(v) > maxValue {
		return 0, false
	}
	if d, ok := number(v, time.Second); ok {
		return d, true
	}
	sign := 1.0
	if v[0] == '+' || v[0] == '-' {
		if v[0] == '-' {
			sign = -1
		}
		v = v[1:]
	}
	if v == "" {
		return 0, false
	}
	total := 0.0 // nanoseconds
	for v != "" {
		i := 0
		for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
			i++
		}
		num := v[:i]
		if !decimal(num) {
			return 0, false
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, false
		}
		v = v[i:]
		matched := false
		for _, u := range units {
			if strings.HasPrefix(v, u.suffix) { // "ms" is listed before "m", so it is matched first
				total += f * float64(u.unit)
				v = v[len(u.suffix):]
				matched = true
				break
			}
		}
		if !matched || math.IsInf(total, 0) {
			return 0, false
		}
	}
	return scale(sign*total, time.Nanosecond), true
}
