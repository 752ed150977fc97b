package optcheck

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

func TestUnused(t *testing.T) {
	m := ByMode(map[string][]string{"a": {"x", "y"}, "b": {"y"}}, []string{"b", "a"})
	if !slices.Equal(m["y"], []string{"b", "a"}) || !slices.Equal(m["x"], []string{"a"}) {
		t.Fatalf("ByMode = %v", m)
	}
	known := []string{"common", "x", "y"}
	cases := []struct {
		o      map[string]any
		mode   string
		key    string
		readBy []string
	}{
		{map[string]any{"common": 1, "x": 1}, "a", "", nil},
		{map[string]any{"x": 1}, "b", "x", []string{"a"}},
		{map[string]any{"x": nil}, "b", "", nil},
		{map[string]any{"y": 1, "x": 1}, "c", "x", []string{"a"}},
		{map[string]any{"common": 1}, "c", "", nil},
	}
	for _, c := range cases {
		key, readBy := m.Unused(c.o, known, c.mode)
		if key != c.key || !slices.Equal(readBy, c.readBy) {
			t.Errorf("Unused(%v, %s) = %q %v, want %q %v", c.o, c.mode, key, readBy, c.key, c.readBy)
		}
	}
}

func TestPositiveDuration(t *testing.T) {
	o := sdk.Options{"zero": "0s", "ok": "2s"}
	if d, err := PositiveDuration(o, "ok", time.Second); err != nil || d != 2*time.Second {
		t.Errorf("ok: %v, %v", d, err)
	}
	if d, err := PositiveDuration(o, "unset", 30*time.Second); err != nil || d != 30*time.Second {
		t.Errorf("unset: %v, %v", d, err)
	}
	_, err := PositiveDuration(o, "zero", 30*time.Second)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != "zero" || !strings.Contains(se.Message, "must be greater than zero, e.g. 30s") {
		t.Errorf("zero: %v", err)
	}
}
