package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/tokenhost/tokenhost/sdk/optval"
)

// problems collects validation errors so the user sees all of them at once.
type problems struct {
	list []string
	// env maps a key path set by an environment override to the variable that set it.
	env map[string]string
}

// add records "path: message"; when an environment variable set path (or a key below it), the message
// names the variable.
func (p *problems) add(path, format string, args ...any) {
	msg := path + ": " + fmt.Sprintf(format, args...)
	if v := p.envVarFor(path); v != "" {
		msg += " (set by environment variable " + v + ")"
	}
	p.list = append(p.list, msg)
}

// envVarFor returns the first (by name) environment variable that set path, a key below it, or the list
// path is an element of.
func (p *problems) envVarFor(path string) string {
	best := ""
	for k, v := range p.env {
		if k == path || strings.HasPrefix(k, path+".") || strings.HasPrefix(path, k+"[") {
			if best == "" || v < best {
				best = v
			}
		}
	}
	return best
}

// plainKey matches keys that can be written in a path as they are.
//
// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var plainKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+$`) })

// keyPath appends key k to the path at: "at.k", or at["k"] when k holds dots, spaces or other characters
// that would make the path ambiguous.
func keyPath(at, k string) string {
	if !plainKey().MatchString(k) {
		return at + "[" + quote(k) + "]"
	}
	if at == "" {
		return k
	}
	return at + "." + k
}

// err returns every recorded problem, sorted and de-duplicated, joined with errors.Join; nil if none.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.Strings(p.list)
	errs := make([]error, 0, len(p.list))
	for i, m := range p.list {
		if i > 0 && m == p.list[i-1] {
			continue
		}
		errs = append(errs, errors.New(m))
	}
	return errors.Join(errs...)
}

// quote quotes s for a message, shortening long values.
func quote(s string) string { return optval.Text(s) }

// index returns the path of element i of the list at.
func index(at string, i int) string { return fmt.Sprintf("%s[%d]", at, i) }
