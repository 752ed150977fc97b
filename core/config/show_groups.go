package config

import (
	"fmt"
	"strings"

	"github.com/tokenhost/tokenhost/internal/suggest"
)

// groups renders the groups block for Show: members as given (names, or mappings with a model_map),
// strategy and affinity header.
func (s *shower) groups(gs []*Group) {
	if len(gs) == 0 {
		return
	}
	s.b.WriteString("groups:\n")
	for _, g := range gs {
		at := keyPath("groups", g.Name)
		fmt.Fprintf(&s.b, "  %s:\n", g.Name)
		members := make([]any, len(g.Members))
		for i, m := range g.Members {
			members[i] = m.Provider
			if len(m.ModelMap) > 0 {
				members[i] = map[string]any{"provider": m.Provider, "model_map": m.ModelMap}
			}
		}
		s.line(2, "members", render(members), at+".members")
		s.line(2, "strategy", g.Strategy, at+".strategy")
		if g.AffinityHeader != "" {
			s.line(2, "affinity_header", g.AffinityHeader, at+".affinity_header")
		}
	}
}

// unknownName is Show's error for a name that is neither a provider nor a group of cfg: every name it
// could have been, and the closest when a typo is likely.
func unknownName(cfg *Config, name string) error {
	known := cfg.Names()
	for _, g := range cfg.Groups {
		known = append(known, g.Name)
	}
	list := "none"
	if len(known) > 0 {
		list = strings.Join(known, ", ")
	}
	if s := suggest.Closest(name, known); s != "" {
		return fmt.Errorf("no provider or group %q in %s (did you mean %q? configured: %s)", name, cfg.Source, s, list)
	}
	return fmt.Errorf("no provider or group %q in %s (configured: %s)", name, cfg.Source, list)
}
