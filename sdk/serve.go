package sdk

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// ProtocolVersion is the version of the gRPC contract between host and plugin that this sdk speaks; a
// host refuses a plugin of a version it does not serve, naming both.
const ProtocolVersion = 1

// Serve runs src as a tokenhost plugin over gRPC and returns when the host ends the process's session.
// Call it from a plugin's main; it also routes log/slog output to the host, which logs it with the
// provider's name and the right level.
func Serve(src Source) {
	pluginrpc.Serve(ProtocolVersion, serverFor(src))
}

// serverFor returns the plugin side's adapter of src for each connection go-plugin serves.
func serverFor(src Source) pluginrpc.ServerFunc {
	return func(broker *plugin.GRPCBroker) pb.SourceServer {
		return &grpcServer{impl: src, storage: pluginStorage{broker: broker}}
	}
}

// The host side's adapter is unexported too; a host reaches it through the plugin set of pluginrpc.
func init() {
	pluginrpc.NewClient = func(broker *plugin.GRPCBroker, conn *grpc.ClientConn) any {
		return &grpcClient{c: pb.NewSourceClient(conn), broker: broker}
	}
}

// Ensure the adapters satisfy the contract at compile time.
var (
	_ Source      = (*grpcClient)(nil)
	_ Interactive = (*grpcClient)(nil)
	_ StorageUser = (*grpcClient)(nil)
)
