// Command extplugin is an external tokenhost plugin (the gateway source built on its own), for the
// end-to-end tests.
package main

import (
	"github.com/tokenhost/tokenhost/plugins/gateway"
	"github.com/tokenhost/tokenhost/sdk"
)

func main() { sdk.Serve(gateway.New()) }
