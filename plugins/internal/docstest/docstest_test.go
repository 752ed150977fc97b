package docstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing; Fatalf stops the check by panicking.
type recorder struct {
	testing.TB
	errs []string
}

type fatal struct{}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}

func run(t *testing.T, page string, known []string, configure func(map[string]any) error) []string {
	path := filepath.Join(t.TempDir(), "p.md")
	if err := os.WriteFile(path, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil && v != (fatal{}) {
				panic(v)
			}
		}()
		Check(r, path, known, configure)
	}()
	return r.errs
}

const page = "# x\n\n| credential | meaning |\n|---|---|\n| `other` | not an option table |\n\n" +
	"| option | default | meaning |\n|---|---|---|\n| `a` | 1 | first |\n| `b`, `c` | — | pair |\n\nprose `d`\n"

// configure rejects what is not in accepted the way sdk.Options.Unknown does.
func configure(accepted ...string) func(map[string]any) error {
	return func(o map[string]any) error {
		for k := range o {
			if !strings.Contains(" "+strings.Join(accepted, " ")+" ", " "+k+" ") {
				return fmt.Errorf("%s: unknown option", k)
			}
		}
		return nil
	}
}

func TestCheck(t *testing.T) {
	if errs := run(t, page, []string{"a", "b", "c"}, configure("a", "b", "c")); len(errs) != 0 {
		t.Errorf("matching page and plugin: %v", errs)
	}
	errs := run(t, page, []string{"a", "b", "c", "e"}, configure("a", "b", "c", "e"))
	if len(errs) != 1 || !strings.Contains(errs[0], "option e") {
		t.Errorf("undocumented option: %v", errs)
	}
	errs = run(t, page, []string{"a", "b"}, configure("a", "b"))
	if len(errs) != 2 || !strings.Contains(errs[0], "option c") || !strings.Contains(errs[1], "rejects") {
		t.Errorf("documented option the plugin rejects: %v", errs)
	}
	errs = run(t, page, []string{"a", "b", "c"}, func(map[string]any) error { return nil })
	if len(errs) != 1 || !strings.Contains(errs[0], "not rejected") {
		t.Errorf("a plugin that accepts anything: %v", errs)
	}
	errs = run(t, "no table\n", nil, configure())
	if len(errs) != 1 || !strings.Contains(errs[0], "no option table") {
		t.Errorf("a page without an option table: %v", errs)
	}
}
