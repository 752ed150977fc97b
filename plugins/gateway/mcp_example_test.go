package gateway

import (
	"io/fs"
	"testing"

	"github.com/tokenhost/tokenhost/conf"
	hostconfig "github.com/tokenhost/tokenhost/core/config"
)

// TestMCPExampleConfigures checks that conf/mcp.example.yaml configures the mcp plugin for its server.
func TestMCPExampleConfigures(t *testing.T) {
	data, err := fs.ReadFile(conf.Examples, "mcp.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := hostconfig.Parse(data, "mcp.example.yaml", hostconfig.Sources{Builtins: []string{MCPName}, Dir: t.TempDir(), Environ: []string{"HOME=" + t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Provider("tools")
	if p == nil || p.Plugin != MCPName {
		t.Fatal("the example has no mcp provider named tools")
	}
	info, err := NewMCP().Configure(t.Context(), p.Options)
	if err != nil || info.Upstream != p.Upstream {
		t.Fatalf("Configure: %+v %v", info, err)
	}
}
