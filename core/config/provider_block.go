package config

import (
	"fmt"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// ParseProvider checks block, one provider entry given as the values a YAML file decodes to (plugin,
// upstream, options, …), exactly as Parse checks an entry of a file's providers block, and returns it as
// the provider name. TOKENHOST_ overrides in s.Environ do not apply (they are for the file); the variables
// that *_env options name are read from it. fleet says whether the host's store is shared: the default of
// shared.
func ParseProvider(name string, block map[string]any, s Sources, fleet bool) (*Provider, error) {
	data, err := yamlv3.Marshal(map[string]any{"providers": map[string]any{name: block}})
	if err != nil {
		return nil, fmt.Errorf("%s: the provider's settings cannot be read as configuration: %v", keyPath("providers", name), err)
	}
	env := make([]string, 0, len(s.Environ))
	for _, kv := range s.Environ {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	s.Environ = env
	cfg, err := Parse(data, "providers added at run time", s)
	if err != nil {
		return nil, err
	}
	p := cfg.Provider(name)
	if p == nil {
		return nil, fmt.Errorf("%s: not a provider entry", keyPath("providers", name))
	}
	if _, given := block["shared"]; !given {
		p.Shared = fleet
	}
	return p, nil
}
