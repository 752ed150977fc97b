// Command pluginv2 is a plugin speaking tokenhost plugin protocol 2, for the end-to-end tests of a
// protocol mismatch.
package main

import (
	"github.com/tokenhost/tokenhost/plugins/gateway"
	"github.com/tokenhost/tokenhost/sdk"
)

func main() { sdk.ServeVersion(2, gateway.New()) }
