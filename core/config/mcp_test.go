package config

import (
	"strings"
	"testing"
)

// TestMCPUpstreamReachesThePlugin: a provider of plugin mcp needs an upstream (the MCP server's URL),
// which reaches the plugin as the option upstream; the option cannot be set by hand.
func TestMCPUpstreamReachesThePlugin(t *testing.T) {
	cfg := mustParse(t, "providers:\n  tools:\n    plugin: mcp\n    upstream: https://tools.example.com/mcp\n    options:\n      scopes: [read]\n")
	p := cfg.Providers[0]
	if p.Options["upstream"] != "https://tools.example.com/mcp" || p.Options["scopes"] == nil {
		t.Fatalf("options handed to the plugin: %v", p.Options)
	}
	for src, want := range map[string]string{
		"providers:\n  tools:\n    plugin: mcp\n": "providers.tools.upstream: required for plugin mcp: the MCP server's URL",
		"providers:\n  tools:\n    plugin: mcp\n    upstream: https://tools.example.com/mcp\n    options:\n      upstream: https://other.example.com/\n": "providers.tools.options.upstream: is set from providers.tools.upstream for plugin mcp",
	} {
		_, err := parseYAML(t, src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want one containing %q", src, err, want)
		}
	}
	if cfg := mustParse(t, "providers:\n  corp:\n    plugin: gateway\n    upstream: https://llm.example.com/v1\n    options:\n      token_url: https://idp.example.com/token\n      client_id: a\n      client_secret: b\n"); cfg.Providers[0].Options["upstream"] != nil {
		t.Error("a gateway provider was handed the upstream option")
	}
}

// TestOptionPath: a plugin's error about upstream names the provider's upstream for plugin mcp (which the
// plugin gets from there), and every other option under the provider's options block.
func TestOptionPath(t *testing.T) {
	mcp, gw := &Provider{Name: "tools", Plugin: "mcp"}, &Provider{Name: "corp", Plugin: "gateway"}
	for _, c := range []struct {
		p         *Provider
		key, want string
	}{
		{mcp, "upstream", "providers.tools.upstream"},
		{mcp, "authorization_server", "providers.tools.options.authorization_server"},
		{gw, "upstream", "providers.corp.options.upstream"},
	} {
		if got := c.p.OptionPath(c.key); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.p.Plugin, c.key, got, c.want)
		}
	}
}
