package core

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tokenhost/tokenhost/core/config"
)

// pluginCommand returns how to start the provider's plugin process.
func pluginCommand(pc *config.Provider, opts Options) func() (*launch, error) {
	if isBuiltin(pc.Plugin) {
		return func() (*launch, error) {
			exe := opts.PluginExecutable
			if exe == "" {
				if _, ok := lookupBuiltin(pc.Plugin); !ok {
					return nil, providerErrorf(pc.Name, "built-in plugin %q is not compiled into this program: add _ \"github.com/tokenhost/tokenhost/plugins/builtin\" to it, or set core.Options.PluginExecutable to an installed tokenhost binary", pc.Plugin)
				}
				if !servePluginChecked.Load() {
					return nil, providerErrorf(pc.Name, "built-in plugin %q needs a plugin process: call core.ServeIfPlugin() first thing in main, or set core.Options.PluginExecutable to an installed tokenhost binary", pc.Plugin)
				}
				self, err := os.Executable()
				if err != nil {
					return nil, providerErrorf(pc.Name, "cannot find this program's executable to run built-in plugin %q: %w; set core.Options.PluginExecutable", pc.Plugin, err)
				}
				exe = self
			}
			reads, err := builtinEnv(opts.PluginExecutable, pc.Plugin)
			if err != nil {
				return nil, providerErrorf(pc.Name, "%w", err)
			}
			cmd := exec.Command(exe)
			cmd.Env = append(pluginEnv(os.Environ(), reads, pc.Env), envBuiltin+"="+pc.Plugin)
			return &launch{cmd: cmd}, nil
		}
	}
	return func() (*launch, error) {
		if !strings.ContainsRune(pc.Plugin, filepath.Separator) && !strings.HasPrefix(pc.Plugin, ".") {
			return nil, keyErrorf(pc.Name, "plugin", "unknown plugin %q (built-in plugins: %s)", pc.Plugin, strings.Join(Builtins(), ", "))
		}
		l, err := verifyExecutable(pc.Name, pc.Plugin, pc.SHA256)
		if err != nil {
			return nil, err
		}
		l.cmd.Env = pluginEnv(os.Environ(), pc.Env)
		return l, nil
	}
}
