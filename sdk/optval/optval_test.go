package optval

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	good := []struct {
		in   any
		want time.Duration
	}{
		{"30s", 30 * time.Second}, {" 1h30m ", 90 * time.Minute}, {"250ms", 250 * time.Millisecond}, {"0", 0},
		{"45", 45 * time.Second}, {"0.5", 500 * time.Millisecond}, {45, 45 * time.Second}, {int64(2), 2 * time.Second},
		{uint64(3), 3 * time.Second}, {2.5, 2500 * time.Millisecond}, {5.0, 5 * time.Second},
	}
	for _, c := range good {
		if got, err := Duration(c.in); err != nil || got != c.want {
			t.Errorf("Duration(%#v) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []struct {
		in   any
		kind error
	}{
		{"5 minutes", ErrInvalid}, {"1d", ErrInvalid}, {true, ErrInvalid}, {[]any{1}, ErrInvalid}, {nil, ErrInvalid},
		{1e300, ErrInvalid}, {math.NaN(), ErrInvalid}, {math.Inf(1), ErrInvalid},
		{"-5s", ErrNegative}, {"-3", ErrNegative}, {-1, ErrNegative}, {-0.5, ErrNegative},
	}
	for _, c := range bad {
		_, err := Duration(c.in)
		if !errors.Is(err, c.kind) {
			t.Errorf("Duration(%#v) error = %v, want %v", c.in, err, c.kind)
		}
	}
	_, err := Duration("soon")
	if err == nil || err.Error() != `must be a duration such as 30s, 5m or 1h30m (or a number of seconds), got "soon"` {
		t.Errorf("message = %v", err)
	}
	if _, err := Duration(-2); err == nil || err.Error() != "must not be negative, got -2" {
		t.Errorf("negative message = %v", err)
	}
}

func TestSizeNumbers(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int64
	}{{1024, 1024}, {2048.0, 2048}, {int64(7), 7}, {"4KiB", 4096}} {
		if got, err := Size(c.in); err != nil || got != c.want {
			t.Errorf("Size(%#v) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := Size(-1); !errors.Is(err, ErrNegative) || err.Error() != "must not be negative, got -1" {
		t.Errorf("Size(-1) error = %v", err)
	}
	if _, err := Size(1.5); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "must be a size such as 16MiB") {
		t.Errorf("Size(1.5) error = %v", err)
	}
}

func TestInt(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int64
	}{{7, 7}, {int64(-3), -3}, {uint64(9), 9}, {5e2, 500}, {" 42 ", 42}} {
		if got, err := Int(c.in); err != nil || got != c.want {
			t.Errorf("Int(%#v) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []any{1.5, "many", "0x10", uint64(math.MaxUint64), 1e300, true, nil, map[string]any{}} {
		if _, err := Int(in); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "must be a whole number, got ") {
			t.Errorf("Int(%#v) error = %v", in, err)
		}
	}
}

func TestTextAndTypeName(t *testing.T) {
	cases := [][2]string{
		{Text("x"), `"x"`}, {Text(strings.Repeat("a", 70)), `"` + strings.Repeat("a", 64) + `"...`}, {Text(3), "3"},
		{Text(true), "true"}, {Text([]any{}), "a list"}, {TypeName(nil), "nothing (null)"}, {TypeName(map[any]any{}), "a mapping"},
		{TypeName(time.Time{}), "a timestamp"}, {TypeName(uint64(1)), "a number"}, {TypeName(struct{}{}), "struct {}"},
	}
	for _, c := range cases {
		if c[0] != c[1] {
			t.Errorf("got %q, want %q", c[0], c[1])
		}
	}
}
