package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/plugins/gateway"
)

// TestMCPPageYAMLLoads loads every YAML block of docs/mcp.md as a tokenhost configuration.
func TestMCPPageYAMLLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "mcp.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range fence.FindAllStringSubmatch(string(doc), -1) {
		if m[1] != "yaml" {
			continue
		}
		n++
		cfg, err := config.Parse([]byte(m[2]), "docs/mcp.md", config.Sources{Builtins: core.Builtins(), Environ: []string{"TOOLS_CLIENT_SECRET=example"}})
		if err != nil {
			t.Errorf("a YAML block does not load: %v\n%s", err, m[2])
			continue
		}
		p := cfg.Providers[0]
		if p.Plugin != "mcp" || p.Options["upstream"] != p.Upstream {
			t.Errorf("the block's provider is not an MCP server handed its upstream: %+v", p)
		}
		if _, err := gateway.NewMCP().Configure(t.Context(), p.Options); err != nil {
			t.Errorf("the plugin refuses a block's options: %v\n%s", err, m[2])
		}
	}
	if n < 4 {
		t.Errorf("found %d YAML blocks in docs/mcp.md, want the 4 server kinds' examples", n)
	}
}
