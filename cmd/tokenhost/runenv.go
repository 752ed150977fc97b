package main

import (
	"fmt"
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

// providerVars returns, for each provider named, the variable `run` sets to its base URL:
// TOKENHOST_<NAME>_URL, NAME upper-cased with every run of characters outside A-Z and 0-9 made one "_" and
// none at either end, so that no variable holds "__", which a tokenhost the command runs would read as a
// key of its own configuration. Two providers with one variable are a usage error naming both.
func providerVars(providers []string) (map[string]string, error) {
	vars, owner := map[string]string{}, map[string]string{}
	for _, p := range providers {
		words := strings.FieldsFunc(strings.ToUpper(p), func(r rune) bool {
			return (r < 'A' || r > 'Z') && (r < '0' || r > '9')
		})
		if len(words) == 0 {
			return nil, fmt.Errorf("provider %q has no letter or digit to name its TOKENHOST_<NAME>_URL variable; rename it in the configuration", p)
		}
		v := hostOnlyPrefix + strings.Join(words, "_") + "_URL"
		if o, ok := owner[v]; ok && o != p {
			return nil, fmt.Errorf("providers %q and %q would both set %s; run them in two runs, or rename one of them in the configuration", o, p, v)
		}
		owner[v], vars[p] = p, v
	}
	return vars, nil
}

// runVars returns the variables the command of a run gets, after runEnviron's filter: OPENAI_BASE_URL
// (and every envNames name) for the first provider, OPENAI_API_KEY and TOKENHOST_KEY the run's key,
// TOKENHOST_URL the proxy's root (root has no trailing slash) and each provider's TOKENHOST_<NAME>_URL.
func runVars(root, key string, providers []string, vars map[string]string, envNames []string) []string {
	base := root + "/" + providers[0]
	out := []string{"OPENAI_BASE_URL=" + base, "OPENAI_API_KEY=" + key, "TOKENHOST_URL=" + root, "TOKENHOST_KEY=" + key}
	for _, p := range providers {
		out = append(out, vars[p]+"="+root+"/"+p)
	}
	for _, n := range envNames {
		out = append(out, n+"="+base)
	}
	return out
}
