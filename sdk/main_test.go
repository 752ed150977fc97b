package sdk_test

import (
	"os"
	"testing"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	"github.com/tokenhost/tokenhost/sdk"
)

// TestMain lets this test binary serve ExampleServe's plugin when a host starts it as one (the host sets
// the go-plugin handshake cookie in the plugin's environment); otherwise it runs the tests.
func TestMain(m *testing.M) {
	if os.Getenv(pluginrpc.Handshake.MagicCookieKey) == pluginrpc.Handshake.MagicCookieValue {
		sdk.Serve(&fixedKey{})
		return
	}
	os.Exit(m.Run())
}
