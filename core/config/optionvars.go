package config

import (
	"strings"

	"github.com/tokenhost/tokenhost/internal/secretopt"
)

// optionVars returns the environment variables a provider's plugin reads because its options name them —
// a *_env option the plugin reads itself (secretopt.PluginReads, such as key_env) and every entry of a
// helper_env list, at any depth — so the plugin process gets exactly these without an env: list. An unset
// variable is a load-time error at the option's path; an empty one is too, except in helper_env, where an
// empty value is passed on as it is (a helper may take an empty setting).
func (d *decoder) optionVars(at string, v any) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			path := keyPath(at, k)
			switch {
			case strings.EqualFold(k, "helper_env"):
				if list, ok := t[k].([]any); ok {
					for i, e := range list {
						out = append(out, d.optionVar(index(path, i), e, true)...)
					}
				}
			case envOption(k) && secretopt.PluginReads(k):
				out = append(out, d.optionVar(path, t[k], false)...)
			default:
				out = append(out, d.optionVars(path, t[k])...)
			}
		}
	case []any:
		for i, e := range t {
			out = append(out, d.optionVars(index(at, i), e)...)
		}
	}
	return out
}

// optionVar checks the one variable v names at path at and returns it; a value that is not a variable
// name is left to the plugin's own checks of the option. A helper_env entry (helper) may be lower-case; a
// secret's variable must look like one (envVarName), so a secret written in its place is never echoed.
func (d *decoder) optionVar(at string, v any, helper bool) []string {
	name, ok := v.(string)
	looksLike := envVarName().MatchString(name)
	if helper {
		looksLike = envName().MatchString(name) && !strings.HasSuffix(name, "*")
	}
	if !ok || !looksLike || strings.HasPrefix(strings.ToUpper(name), envPrefix) {
		return nil
	}
	val, set := d.env[name]
	switch {
	case !set:
		d.p.add(at, "the environment variable %s is not set: export it before starting tokenhost, or name another variable here", name)
	case val == "" && !helper:
		d.p.add(at, "the environment variable %s is empty: export it with a value before starting tokenhost", name)
	default:
		return []string{name}
	}
	return nil
}
