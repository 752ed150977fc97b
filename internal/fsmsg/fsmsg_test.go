package fsmsg

import (
	"errors"
	"io/fs"
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

func TestCauseKeepsTheErrorForWrapping(t *testing.T) {
	_, err := os.ReadFile(filepath.Join(t.TempDir(), "missing-file"))
	cause := Cause(err)
	if !errors.Is(cause, fs.ErrNotExist) {
		t.Errorf("Cause(%v) = %v, which is not fs.ErrNotExist", err, cause)
	}
	var pe *fs.PathError
	if errors.As(cause, &pe) {
		t.Errorf("Cause(%v) still carries the path: %v", err, cause)
	}
	plain := errors.New("plain")
	if Cause(plain) != plain || Cause(nil) != nil {
		t.Errorf("Cause changed an error without a path")
	}
}
