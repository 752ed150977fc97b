package config

// mcpPlugin is the built-in plugin for MCP servers: its provider's upstream is the server's URL, from which
// the plugin discovers everything else, so the plugin needs it too.
const mcpPlugin = "mcp"

// mcpUpstream requires an upstream for a provider of the built-in mcp plugin and hands it to the plugin
// as the option upstream.
func (d *decoder) mcpUpstream(at string, p *Provider, isPath bool) {
	if isPath || p.Plugin != mcpPlugin || d.failed[at+".upstream"] {
		return
	}
	if p.Upstream == "" {
		d.p.add(at+".upstream", "required for plugin mcp: the MCP server's URL, e.g. https://tools.example.com/mcp")
		return
	}
	if _, set := p.Options["upstream"]; set {
		d.p.add(at+".options.upstream", "is set from %s.upstream for plugin mcp; remove it from options", at)
		return
	}
	opts := make(map[string]any, len(p.Options)+1)
	for k, v := range p.Options {
		opts[k] = v
	}
	opts["upstream"] = p.Upstream
	p.Options = opts
}

// OptionPath is the configuration path of the option key that p's plugin names in an error: under the
// provider's options block, except upstream for plugin mcp, which the plugin gets from the provider's
// upstream.
func (p *Provider) OptionPath(key string) string {
	if p.Plugin == mcpPlugin && key == "upstream" {
		return "providers." + p.Name + ".upstream"
	}
	return "providers." + p.Name + ".options." + key
}
