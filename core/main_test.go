package core

import (
	"os"
	"testing"

	"github.com/tokenhost/tokenhost/plugins/gateway"
)

// TestMain lets this test binary serve the built-in plugins when the host under test re-executes it,
// exactly as an embedding program does.
func TestMain(m *testing.M) {
	RegisterBuiltin(gateway.Name, gateway.Version, gateway.New, ReadsEnv("TEST_GATEWAY_HOME", "TEST_GATEWAY_*"))
	if ServeIfPlugin() {
		return
	}
	os.Exit(m.Run())
}
