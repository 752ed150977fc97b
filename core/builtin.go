package core

import (
	"fmt"
	"os"
	"sort"
	"sync/atomic"

	"github.com/tokenhost/tokenhost/plugins/azure"
	"github.com/tokenhost/tokenhost/plugins/codex"
	"github.com/tokenhost/tokenhost/plugins/gateway"
	"github.com/tokenhost/tokenhost/plugins/gemini"
	"github.com/tokenhost/tokenhost/sdk"
)

// envBuiltin names the built-in plugin a re-executed tokenhost process must serve.
const envBuiltin = "TOKENHOST_BUILTIN_PLUGIN"

// builtin is a plugin compiled into every tokenhost binary.
type builtin struct {
	new     func() sdk.Source
	version string
}

// builtins are the plugins compiled into every tokenhost binary, by name.
var builtins = map[string]builtin{
	azure.Name:   {azure.New, azure.Version},
	codex.Name:   {codex.New, codex.Version},
	gateway.Name: {gateway.New, gateway.Version},
	gemini.Name:  {gemini.New, gemini.Version},
}

// BuiltinVersion returns the version of the built-in plugin name, or "" if there is none.
func BuiltinVersion(name string) string { return builtins[name].version }

// Builtins returns the names of the built-in plugins, sorted.
func Builtins() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// servePluginChecked records that this process called ServeIfPlugin and is not a plugin, so re-executing
// it in plugin mode is safe.
var servePluginChecked atomic.Bool

// ServeIfPlugin serves a built-in plugin when this process was started by a tokenhost host to be one, and
// then returns true; in any other process it returns false at once. Call it first thing in main:
//
//	if core.ServeIfPlugin() { return }
func ServeIfPlugin() bool {
	name := os.Getenv(envBuiltin)
	if name == "" || os.Getenv(sdk.Handshake.MagicCookieKey) != sdk.Handshake.MagicCookieValue {
		servePluginChecked.Store(true)
		return false
	}
	b, ok := builtins[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "tokenhost: this binary has no built-in plugin %q (it has: %v); install a tokenhost that matches the host\n", name, Builtins())
		return true
	}
	sdk.Serve(b.new())
	return true
}
