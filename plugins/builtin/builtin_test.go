package builtin

import (
	"slices"
	"testing"

	"github.com/tokenhost/tokenhost/core"
)

// TestEveryBuiltinIsRegistered checks that the names core knows a tokenhost binary serves are exactly
// the ones this package registers, each with a version.
func TestEveryBuiltinIsRegistered(t *testing.T) {
	want := []string{"azure", "codex", "gateway", "gemini", "mcp"}
	if got := core.Builtins(); !slices.Equal(got, want) {
		t.Fatalf("core.Builtins() = %v, want %v", got, want)
	}
	for _, n := range want {
		if core.BuiltinVersion(n) == "" {
			t.Errorf("built-in %s is not registered (no version)", n)
		}
	}
}
