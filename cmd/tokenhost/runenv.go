package main

import (
	"strings"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/envpattern"
)

// hostOnlyPrefix starts the variables that configure tokenhost itself (TOKENHOST_SERVER__API_KEYS,
// TOKENHOST_CONFIG, …): they are for this process, never for the command it runs.
const hostOnlyPrefix = "TOKENHOST_"

// runEnviron returns environ without what the command under `tokenhost run` must not see, unless keep names
// it: every TOKENHOST_* variable, every variable the configuration reads a value from (cfg.SecretVars: the
// *_env options of every provider and store.encryption_key_env), and every variable a configured
// provider's plugin may see beyond the minimal environment (its env: list and, for a built-in plugin, the
// variables it reads, such as AZURE_*). Everything else (PATH, HOME, the user's own variables) passes.
func runEnviron(environ []string, cfg *config.Config, keep []string) []string {
	secrets := cfg.SecretVars()
	var patterns []string
	for _, p := range cfg.Providers {
		patterns = append(patterns, p.Env...)
		patterns = append(patterns, core.BuiltinEnv(p.Plugin)...)
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		withheld := strings.HasPrefix(strings.ToUpper(name), hostOnlyPrefix) || matchesName(name, secrets) || envpattern.Match(name, patterns)
		if !withheld || matchesName(name, keep) {
			out = append(out, kv)
		}
	}
	return out
}

// matchesName reports whether name is one of names, ignoring case (Windows does).
func matchesName(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}
