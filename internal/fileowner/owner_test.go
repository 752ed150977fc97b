//go:build unix

package fileowner

import (
	"os"
	"testing"
)

// A file this process makes is this user's.
func TestOfOwnFile(t *testing.T) {
	fi, err := os.Stat(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if uid, known := Of(fi); !known || uid != os.Getuid() {
		t.Fatalf("Of(own directory) = %d, %v; want %d, true", uid, known, os.Getuid())
	}
}
