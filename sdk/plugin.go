package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// ProtocolVersion is the plugin protocol this sdk speaks; host and plugin must share it.
const ProtocolVersion = 1

// PluginName is the name of the one plugin every tokenhost plugin process dispenses.
const PluginName = "source"

// Handshake is the go-plugin handshake shared by host and plugins. The cookie only keeps a plugin binary
// from being run by hand by mistake; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "TOKENHOST_PLUGIN_COOKIE",
	MagicCookieValue: "d4c1b1e0-tokenhost-source",
}

// GRPCPlugin is the go-plugin glue for Source: on the plugin side it serves Impl, on the host side it
// returns a Source that calls the plugin over gRPC.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Source
}

// GRPCServer registers the plugin's Source on the gRPC server.
func (p *GRPCPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSourceServer(s, &grpcServer{impl: p.Impl, storage: pluginStorage{broker: broker}})
	return nil
}

// GRPCClient returns a Source backed by the plugin's gRPC connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{c: pb.NewSourceClient(c), broker: broker}, nil
}

// VersionedPlugins returns the plugin set for every protocol version this sdk supports, serving impl.
func VersionedPlugins(impl Source) map[int]plugin.PluginSet {
	return versionedPlugins(ProtocolVersion, impl)
}

func versionedPlugins(version int, impl Source) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{version: {PluginName: &GRPCPlugin{Impl: impl}}}
}
