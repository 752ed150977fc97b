// Package pluginrpc is the go-plugin plumbing between a tokenhost host and its plugin processes: the
// handshake, the plugin set each side registers, the process setup of a plugin (Serve), the mutual TLS
// credentials the host makes for each plugin (HostTLS) and the error for a broken connection.
//
// It sits below package sdk, which imports it, and so imports nothing of sdk: it speaks only the
// generated proto (sdk/proto) and go-plugin's types. The adapters between sdk's types and the proto stay
// in sdk, unexported, on both sides, so the wire mapping exists once. The plugin side reaches them
// through the server func sdk.Serve passes to Serve; the host side, which cannot name them, through
// NewClient, the one function variable sdk sets when it is initialised (every host imports sdk for the
// Source it gets). A host therefore imports this package for the process plumbing and sdk for the
// contract; a plugin imports sdk alone.
package pluginrpc

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// ProtocolVersion is the plugin protocol host and plugin speak: the version of the gRPC contract.
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

// ServerFunc returns the Source service a plugin process serves, given the broker of its connection
// (over which it reaches what the host serves back, such as storage).
type ServerFunc func(broker *plugin.GRPCBroker) pb.SourceServer

// NewClient returns the host's sdk.Source for a plugin's gRPC connection. Package sdk sets it when it is
// initialised; it is nil only in a program that does not link sdk, which then cannot dispense a plugin.
var NewClient func(broker *plugin.GRPCBroker, conn *grpc.ClientConn) any

// Plugin is the go-plugin glue for the Source service: on the plugin side it serves what NewServer
// returns, on the host side it dispenses the sdk.Source NewClient makes.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// NewServer makes the service the plugin process serves; nil on the host's side.
	NewServer ServerFunc
}

// GRPCServer registers the plugin's Source service on s.
func (p *Plugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.NewServer == nil {
		return errors.New("this side of the plugin connection serves no token source")
	}
	pb.RegisterSourceServer(s, p.NewServer(broker))
	return nil
}

// GRPCClient returns the host's sdk.Source backed by the plugin's gRPC connection.
func (p *Plugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	if NewClient == nil {
		return nil, errors.New("the tokenhost sdk is not linked into this host, so it cannot talk to a plugin")
	}
	return NewClient(broker, c), nil
}

// Plugins returns the plugin set of one protocol version, serving server (nil on the host's side).
func Plugins(version int, server ServerFunc) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{version: {PluginName: &Plugin{NewServer: server}}}
}

// HostPlugins returns the plugin set for every protocol version a host serves (go-plugin's
// ClientConfig.VersionedPlugins).
func HostPlugins() map[int]plugin.PluginSet { return Plugins(ProtocolVersion, nil) }
