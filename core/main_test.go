package core

import (
	"os"
	"testing"

	"github.com/tokenhost/tokenhost/plugins/gateway"
)

// TestMain lets this test binary serve the built-in plugins when the host under test re-executes it,
// exactly as an embedding program does.
func TestMain(m *testing.M) {
	RegisterBuiltin(gateway.Name, gateway.Version, gateway.New)
	if ServeIfPlugin() {
		return
	}
	os.Exit(m.Run())
}
