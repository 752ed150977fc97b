package pathmsg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReasonDropsThePath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-file")
	_, err := os.ReadFile(missing)
	if got := Reason(err); got != "no such file or directory" {
		t.Errorf("Reason(%v) = %q", err, got)
	}
	err = os.Rename(missing, filepath.Join(dir, "other"))
	if got := Reason(err); strings.Contains(got, dir) || got == "" {
		t.Errorf("Reason(%v) = %q, want the reason without the path", err, got)
	}
	if got := Reason(errors.New("plain")); got != "plain" {
		t.Errorf("Reason(plain) = %q", got)
	}
	if got := Reason(nil); got != "unknown error" {
		t.Errorf("Reason(nil) = %q", got)
	}
}
