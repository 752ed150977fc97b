package excerpt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"one":               "one",
		"one\ntwo":          "one",
		"one\r\ntwo":        "one",
		"\nsecond":          "",
		"héllo wörld\nmore": "héllo wörld",
	} {
		if got := FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClipCutsBetweenCharacters: a two-byte character straddling the limit is kept whole or dropped
// whole, never halved into invalid UTF-8.
func TestClipCutsBetweenCharacters(t *testing.T) {
	s := strings.Repeat("a", 119) + "é" + "xyz" // é is bytes 119 and 120
	got := Clip(s, 120)
	if want := strings.Repeat("a", 119) + "é…"; got != want || !utf8.ValidString(got) {
		t.Errorf("Clip = %q, want %q", got, want)
	}
	if got := Clip("日本語のテキスト", 3); got != "日本語…" {
		t.Errorf("Clip of three-byte characters = %q", got)
	}
	if got := Clip("short", 120); got != "short" {
		t.Errorf("Clip of a short text = %q, want it unchanged", got)
	}
	if got := Clip("exact", 5); got != "exact" {
		t.Errorf("Clip at exactly n runes = %q, want it unchanged", got)
	}
}
