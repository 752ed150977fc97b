package pluginrpc

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"

	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// This test binary does not link sdk, so NewClient is nil: a host dispensing the plugin gets an error
// saying so, never a panic; and the host's side of the plugin set serves nothing.
func TestDispenseWithoutTheSDKFails(t *testing.T) {
	server := func(*plugin.GRPCBroker) pb.SourceServer { return pb.UnimplementedSourceServer{} }
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &Plugin{NewServer: server}})
	defer client.Close()
	if raw, err := client.Dispense(PluginName); err == nil || !strings.Contains(err.Error(), "sdk") {
		t.Fatalf("Dispense without sdk = %v, %v; want an error naming the sdk", raw, err)
	}
	host := HostPlugins()[ProtocolVersion][PluginName].(*Plugin)
	if err := host.GRPCServer(nil, nil); err == nil {
		t.Fatal("the host's side of the plugin set served a token source")
	}
}
