// Package builtin registers tokenhost's built-in plugins (azure, codex, gateway, gemini, mcp) with core. A
// program that embeds the host and wants them compiled in imports it for its side effect:
//
//	import _ "github.com/tokenhost/tokenhost/plugins/builtin"
//
// and calls core.ServeIfPlugin first thing in main, as database/sql drivers register themselves. A
// program that leaves it out stays lean and can still run the built-ins of an installed tokenhost
// binary through core.Options.PluginExecutable.
package builtin

import (
	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/plugins/azure"
	"github.com/tokenhost/tokenhost/plugins/codex"
	"github.com/tokenhost/tokenhost/plugins/gateway"
	"github.com/tokenhost/tokenhost/plugins/gemini"
)

func init() {
	core.RegisterBuiltin(azure.Name, azure.Version, azure.New, core.ReadsEnv(azure.Environment...))
	core.RegisterBuiltin(codex.Name, codex.Version, codex.New, core.ReadsEnv(codex.Environment...))
	core.RegisterBuiltin(gateway.Name, gateway.Version, gateway.New) // it reads no environment variable
	core.RegisterBuiltin(gemini.Name, gemini.Version, gemini.New, core.ReadsEnv(gemini.Environment...))
	core.RegisterBuiltin(gateway.MCPName, gateway.Version, gateway.NewMCP) // the gateway's code in its MCP mode
}
