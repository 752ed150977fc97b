package sdk

import (
	"strings"
	"testing"
	"time"
)

// TestOptionsDuration pins the shared duration syntax: what the host's configuration accepts, an option accepts.
func TestOptionsDuration(t *testing.T) {
	o := Options{"text": "1h30m", "secs": 45.0, "int": 3, "str_secs": "45", "half": 0.5, "null": nil}
	want := map[string]time.Duration{
		"text": 90 * time.Minute, "secs": 45 * time.Second, "int": 3 * time.Second, "str_secs": 45 * time.Second,
		"half": 500 * time.Millisecond, "null": 7 * time.Second, "absent": 7 * time.Second,
	}
	for k, w := range want {
		if d, err := o.Duration(k, 7*time.Second); err != nil || d != w {
			t.Errorf("Duration(%q) = %v, %v; want %v", k, d, err, w)
		}
	}
	for k, v := range map[string]any{"neg": -1.0, "negtext": "-5s", "word": "soon", "list": []any{"1s"}, "nan": "NaN"} {
		_, err := Options{k: v}.Duration(k, 0)
		if KindOf(err) != KindBadConfig || !strings.HasPrefix(err.Error(), k+": must ") {
			t.Errorf("Duration(%q = %#v) error = %v, want a BadConfig naming the key", k, v, err)
		}
	}
}
