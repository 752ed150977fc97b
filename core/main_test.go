package core

import (
	"os"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/plugins/gateway"
)

// TestMain lets this test binary serve the built-in plugins when the host under test re-executes it,
// exactly as an embedding program does.
func TestMain(m *testing.M) {
	RegisterBuiltin(gateway.Name, gateway.Version, gateway.New, ReadsEnv("TEST_GATEWAY_HOME", "TEST_GATEWAY_*"))
	if d, err := time.ParseDuration(os.Getenv("TEST_GATEWAY_START_DELAY")); err == nil && os.Getenv(envBuiltin) != "" && os.Getenv(envDescribe) == "" {
		time.Sleep(d) // a plugin that is slow to start (TestRestartDoesNotEatTheFetchTimeout)
	}
	if ServeIfPlugin() {
		return
	}
	os.Exit(m.Run())
}
