package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Only a clean release version is required as is; commits, dirty trees and development builds go through a
// checkout.
func TestReleaseVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3":                               true,
		"v1.2.3-rc.1":                          true,
		"v0.0.0":                               false,
		"(devel)":                              false,
		"v1.2.3+dirty":                         false,
		"v0.0.0-20261207205012-d883fa3abcde":   false,
		"v1.2.4-0.20261207205012-d883fa3abcde": false,
		"v1.2.3-rc.1.0.20261207205012-d883fa3abcde": false,
		"1.2.3": false,
	} {
		if got := releaseVersion(v); got != want {
			t.Errorf("releaseVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

// The checkout is found from any directory below it, and a go.mod of another module is not one.
func TestFindTokenhostRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module github.com/tokenhost/tokenhost\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a", "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := findTokenhostRoot(deep); !ok || got != root {
		t.Errorf("findTokenhostRoot(%s) = %q, %v; want %q", deep, got, ok, root)
	}
	if got, ok := findTokenhostRoot(t.TempDir()); ok {
		t.Errorf("findTokenhostRoot outside a checkout = %q", got)
	}
}
