package config

import (
	"reflect"
	"sort"
	"strings"

	"github.com/knadh/koanf/providers/env/v2"
)

// envPrefix starts every environment variable that overrides a configuration key.
const envPrefix = "TOKENHOST_"

// envDelim separates key levels in an override variable's name.
const envDelim = "__"

// envOverrides picks the override variables out of environ: names starting with TOKENHOST_ and containing
// "__". It returns them as KEY=VALUE pairs for koanf's env provider and, for error messages, the key path
// each one sets. Malformed names and conflicting variables are recorded in p and left out.
func envOverrides(environ []string, p *problems) (vars []string, paths map[string]string) {
	type override struct{ name, value string }
	byPath := map[string]override{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || !strings.Contains(name, envDelim) {
			continue
		}
		segs := envSegments(name)
		bad := false
		for _, s := range segs {
			if s == "" {
				bad = true
			}
		}
		if bad {
			p.add(name, "empty key level; separate levels with a double underscore, e.g. TOKENHOST_PROVIDERS__CORP__UPSTREAM")
			continue
		}
		byPath[strings.Join(segs, ".")] = override{name, value} // a later duplicate wins, as in the environment
	}

	keys := make([]string, 0, len(byPath))
	for k := range byPath {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	paths = make(map[string]string, len(keys))
next:
	for _, k := range keys {
		o := byPath[k]
		for _, other := range keys {
			if strings.HasPrefix(other, k+".") {
				p.add(k, "environment variable %s sets a value, but %s sets a key inside it; unset one of them",
					o.name, byPath[other].name)
				continue next
			}
		}
		vars = append(vars, o.name+"="+o.value)
		paths[k] = o.name
	}
	return vars, paths
}

// envSegments turns TOKENHOST_PROVIDERS__CORP__UPSTREAM into ["providers", "corp", "upstream"].
func envSegments(name string) []string {
	return strings.Split(strings.ToLower(strings.TrimPrefix(name, envPrefix)), envDelim)
}

// isListKey reports whether the key path segs holds a list (a slice in rawServer or rawProvider), which an
// override gives comma-separated.
func isListKey(segs []string) bool {
	var t reflect.Type
	switch {
	case len(segs) == 2 && segs[0] == "server":
		t = reflect.TypeFor[rawServer]()
	case len(segs) == 3 && segs[0] == "providers":
		t = reflect.TypeFor[rawProvider]()
	case len(segs) == 3 && segs[0] == "groups":
		return segs[2] == "members"
	default:
		return false
	}
	for _, f := range reflect.VisibleFields(t) {
		if f.Tag.Get("koanf") == segs[len(segs)-1] {
			return f.Type.Kind() == reflect.Slice
		}
	}
	return false
}

// envProvider returns koanf's env provider over the override variables vars: names lose the prefix and
// are lower-cased, "__" separates levels, and list keys are split at commas.
func envProvider(vars []string) *env.Env {
	return env.Provider(envDelim, env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return vars },
		TransformFunc: func(k, v string) (string, any) {
			segs := envSegments(k)
			if isListKey(segs) {
				return strings.Join(segs, envDelim), splitList(v)
			}
			return strings.Join(segs, envDelim), v
		},
	})
}

// splitList splits a comma-separated override value, dropping blank items.
func splitList(v string) []any {
	out := []any{}
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
