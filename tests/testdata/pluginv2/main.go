// Command pluginv2 is a plugin speaking tokenhost plugin protocol 2, for the end-to-end tests of a
// protocol mismatch. A host of protocol 1 refuses it in go-plugin's handshake, before any call, so its
// service answers none.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

func main() {
	pluginrpc.Serve(2, func(*plugin.GRPCBroker) pb.SourceServer { return pb.UnimplementedSourceServer{} })
}
