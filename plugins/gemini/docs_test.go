package gemini

import (
	"slices"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/plugins/internal/docstest"
)

const page = "../../docs/providers/gemini.md"

func TestOptionsMatchTheProviderPage(t *testing.T) {
	docstest.Check(t, page, knownOptions, func(o map[string]any) error {
		_, err := New().Configure(t.Context(), o)
		return err
	})
}

// TestSourcesMatchTheProviderPage checks the page's "sources" column against the sources each option
// applies to.
func TestSourcesMatchTheProviderPage(t *testing.T) {
	for opt, cells := range docstest.Options(t, page) {
		col := cells[1]
		var want []string // nil: every source
		switch {
		case col == "—" || col == "all":
		case strings.HasPrefix(col, "all but "):
			for _, s := range sources {
				if !slices.Contains(strings.Split(strings.TrimPrefix(col, "all but "), ", "), s) {
					want = append(want, s)
				}
			}
		default:
			want = strings.Split(col, ", ")
		}
		got, limited := appliesTo[opt]
		if !limited {
			got = nil
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("option %s: the page says it applies to %q, the plugin to %v", opt, col, got)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
