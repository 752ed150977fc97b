package core

import (
	"os"
	"testing"
)

// TestMain lets this test binary serve the built-in plugins when the host under test re-executes it,
// exactly as an embedding program does.
func TestMain(m *testing.M) {
	if ServeIfPlugin() {
		return
	}
	os.Exit(m.Run())
}
