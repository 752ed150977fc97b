// Package docstest checks a built-in plugin against its page in docs/providers, the one place its options
// are documented: the page's option table must name exactly the options the plugin accepts.
package docstest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unknownPrefix is how sdk.Options.Unknown words an option a plugin does not accept.
const unknownPrefix = "unknown option"

// bogus is an option no plugin accepts; Check makes sure the plugin rejects it with unknownPrefix, so a
// change of that wording cannot turn the check into one that passes on anything.
const bogus = "zz_docstest_not_an_option"

var name = regexp.MustCompile("`([a-z0-9_]+)`")

// Options returns the options documented in the markdown page at path: the backquoted names in the first
// cell of each row of every table whose header's first cell is "option", each mapped to its row's cells.
func Options(t testing.TB, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the provider page: %v", err)
	}
	out := map[string][]string{}
	inTable := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case strings.Trim(cells[0], "-: ") == "":
			continue // the header's separator row
		case !inTable && cells[0] == "option":
			inTable = true
			continue
		case !inTable:
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
			if _, dup := out[m[1]]; dup {
				t.Errorf("%s documents option %s twice", path, m[1])
			}
			out[m[1]] = cells
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no option table (a table whose first column is headed \"option\")", path)
	}
	return out
}

// Check fails t when the options documented in page and known (the options the plugin reads) differ, or
// when configure, given one documented option alone, rejects it as unknown. configure returns
// Configure's error.
func Check(t testing.TB, page string, known []string, configure func(options map[string]any) error) {
	t.Helper()
	documented := Options(t, page)
	for _, k := range known {
		if _, ok := documented[k]; !ok {
			t.Errorf("the plugin accepts option %s, which %s does not document", k, page)
		}
	}
	if err := configure(map[string]any{bogus: "x"}); err == nil || !strings.Contains(err.Error(), bogus+": "+unknownPrefix) {
		t.Fatalf("an unknown option is not rejected as %q: %v", unknownPrefix, err)
	}
	keys := make([]string, 0, len(documented))
	for k := range documented {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			t.Errorf("%s documents option %s, which is not in the plugin's list of known options", page, k)
		}
		if err := configure(map[string]any{k: "x"}); err != nil && strings.Contains(err.Error(), k+": "+unknownPrefix) {
			t.Errorf("%s documents option %s, which the plugin rejects: %v", page, k, err)
		}
	}
}
