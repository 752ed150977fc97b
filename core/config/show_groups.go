package config

import "fmt"

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
