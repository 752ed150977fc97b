// Command pluginv1 is a plugin as a binary built before the optional RPCs existed would be: its gRPC
// server implements only protocol 1's first three calls (Configure, Token, Refresh) and answers
// UNIMPLEMENTED to anything added since (Login, Logout). It hands out a new opaque token on every call,
// for the compatibility test.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// server is the original three-call service; pb.UnimplementedSourceServer answers the rest.
type server struct{ pb.UnimplementedSourceServer }

func (server) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{Info: &pb.Info{Name: "v1", Version: "1.0.0"}}, nil
}

func (server) Token(context.Context, *pb.TokenRequest) (*pb.TokenResponse, error) { return fresh() }

func (server) Refresh(context.Context, *pb.RefreshRequest) (*pb.TokenResponse, error) { return fresh() }

func fresh() (*pb.TokenResponse, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return &pb.TokenResponse{Token: &pb.Token{Value: "v1-" + hex.EncodeToString(b), Type: "Bearer"}}, nil
}

// grpcPlugin serves server with go-plugin; the host's side is sdk's client.
type grpcPlugin struct{ plugin.Plugin }

func (grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSourceServer(s, server{})
	return nil
}

func (grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

// The handshake and plugin name of protocol 1, spelt out as such a binary has them compiled in: a host
// that changed either would refuse it, and tests/compat_test.go would fail.
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "TOKENHOST_PLUGIN_COOKIE",
	MagicCookieValue: "d4c1b1e0-tokenhost-source",
}

const pluginName = "source"

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         plugin.PluginSet{pluginName: grpcPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
