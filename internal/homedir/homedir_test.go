package homedir

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	home := filepath.Join(t.TempDir(), "me")
	at := func() (string, error) { return home, nil }
	backslash := "" // `~\x` is expanded on Windows only; elsewhere it reads as the user `\x`.
	if runtime.GOOS == "windows" {
		backslash = filepath.Join(home, "x")
	}
	for _, c := range []struct{ in, want, wantErr string }{
		{"~", home, ""},
		{"~/", home, ""},
		{"~/a/b.json", filepath.Join(home, "a", "b.json"), ""},
		{`~\x`, backslash, "only a leading ~/ is expanded"},
		{"~bob/auth.json", "", "only a leading ~/ is expanded, not ~bob (write the full path)"},
		{"~bob", "", "not ~bob"},
	} {
		got, err := Expand(c.in, at)
		switch {
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("Expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.want == "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("Expand(%q) = %q, %v; want an error saying %q", c.in, got, err, c.wantErr)
		}
	}
}

func TestExpandLeavesOtherPathsAndAsksForHomeOnlyForTilde(t *testing.T) {
	never := func() (string, error) {
		t.Error("home was asked for a path without ~")
		return "", nil
	}
	for _, p := range []string{"", "auth.json", "a/~/b", "/etc/x", filepath.Join(t.TempDir(), "~x")} {
		if got, err := Expand(p, never); err != nil || got != p {
			t.Errorf("Expand(%q) = %q, %v; want it unchanged", p, got, err)
		}
	}
}

func TestExpandWithoutAHomeDirectory(t *testing.T) {
	for _, home := range []func() (string, error){
		func() (string, error) { return "", nil },
		func() (string, error) { return "", errors.New("HOME is not set") },
	} {
		if got, err := Expand("~/x", home); err == nil || !strings.HasPrefix(err.Error(), "cannot expand ~: ") {
			t.Errorf("Expand without a home = %q, %v; want an error", got, err)
		}
	}
	_, err := Expand("~", func() (string, error) { return "", errors.New("HOME is not set") })
	if err == nil || err.Error() != "cannot expand ~: HOME is not set" {
		t.Errorf("the home function's reason is lost: %v", err)
	}
}
