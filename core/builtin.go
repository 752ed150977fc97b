package core

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	"github.com/tokenhost/tokenhost/sdk"
)

// envBuiltin names the built-in plugin a re-executed tokenhost process must serve.
const envBuiltin = "TOKENHOST_BUILTIN_PLUGIN"

// tokenhostBuiltins are the built-in plugins an installed tokenhost binary serves. A program that runs
// them through Options.PluginExecutable knows their names without linking their code; the package
// plugins/builtin registers exactly these.
var tokenhostBuiltins = []string{"azure", "codex", "gateway", "gemini", "mcp"}

// builtin is a plugin compiled into this program and registered with RegisterBuiltin.
type builtin struct {
	new     func() sdk.Source
	version string
	env     []string // the environment variables it reads, beside baseEnv (ReadsEnv)
}

// BuiltinOption adds a detail to a RegisterBuiltin registration.
type BuiltinOption func(*builtin)

// ReadsEnv declares the environment variables a built-in plugin reads (a name ending in "*" is a prefix,
// e.g. "AZURE_*"). Plugin processes start with a minimal environment; these are passed on beside it.
func ReadsEnv(names ...string) BuiltinOption {
	return func(b *builtin) { b.env = append(b.env, names...) }
}

var (
	builtinsMu sync.RWMutex
	builtins   = map[string]builtin{}
)

// RegisterBuiltin makes the plugin name available in this program: ServeIfPlugin serves it when the host
// re-executes this program, and a config may name it as a provider's plugin. It is called from the init
// function of a plugin registry such as plugins/builtin, and panics when name is empty, newSource is nil
// or name is registered twice. Options such as ReadsEnv declare what the plugin needs from its process.
func RegisterBuiltin(name, version string, newSource func() sdk.Source, opts ...BuiltinOption) {
	builtinsMu.Lock()
	defer builtinsMu.Unlock()
	if name == "" || newSource == nil {
		panic("core.RegisterBuiltin: empty name or nil source constructor")
	}
	if _, dup := builtins[name]; dup {
		panic("core.RegisterBuiltin: plugin " + name + " registered twice")
	}
	b := builtin{new: newSource, version: version}
	for _, o := range opts {
		o(&b)
	}
	builtins[name] = b
}

func lookupBuiltin(name string) (builtin, bool) {
	builtinsMu.RLock()
	defer builtinsMu.RUnlock()
	b, ok := builtins[name]
	return b, ok
}

// isBuiltin reports whether name is a built-in plugin: registered in this program or served by an
// installed tokenhost binary.
func isBuiltin(name string) bool {
	_, ok := lookupBuiltin(name)
	return ok || slices.Contains(tokenhostBuiltins, name)
}

// BuiltinVersion returns the version of the built-in plugin name registered in this program, or "" if
// it is not registered.
func BuiltinVersion(name string) string {
	b, _ := lookupBuiltin(name)
	return b.version
}

// Builtins returns the names of the built-in plugins, sorted: those registered in this program and
// those an installed tokenhost binary serves.
func Builtins() []string {
	builtinsMu.RLock()
	out := slices.Clone(tokenhostBuiltins)
	for n := range builtins {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	builtinsMu.RUnlock()
	sort.Strings(out)
	return out
}

// registered returns the names of the built-ins compiled into this program, sorted.
func registered() []string {
	builtinsMu.RLock()
	defer builtinsMu.RUnlock()
	return slices.Sorted(maps.Keys(builtins))
}

// servePluginChecked records that this process called ServeIfPlugin and is not a plugin, so re-executing
// it in plugin mode is safe.
var servePluginChecked atomic.Bool

// ServeIfPlugin serves a built-in plugin when this process was started by a tokenhost host to be one, and
// then returns true; in any other process it returns false at once. Call it first thing in main:
//
//	if core.ServeIfPlugin() { return }
//
// The plugins it can serve are those registered in this program, e.g. by a blank import of
// github.com/tokenhost/tokenhost/plugins/builtin.
func ServeIfPlugin() bool {
	name := os.Getenv(envBuiltin)
	if name == "" || os.Getenv(pluginrpc.Handshake.MagicCookieKey) != pluginrpc.Handshake.MagicCookieValue {
		servePluginChecked.Store(true)
		return false
	}
	b, ok := lookupBuiltin(name)
	if ok && os.Getenv(envDescribe) == describeEnv {
		describeBuiltinEnv(os.Stdout, b)
		return true
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "tokenhost: this program has no built-in plugin %q (it has: %v); add _ \"github.com/tokenhost/tokenhost/plugins/builtin\" to it, or install a tokenhost that matches the host\n", name, registered())
		return true
	}
	sdk.Serve(b.new())
	return true
}
