package tests

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxInitAllocs is the allocations package init may make in a plugin process, per tokenhost package: every
// plugin process is the tokenhost binary re-executed and runs the init of every package linked in, so
// work done there (compiling regular expressions, parsing templates, building metric descriptions) is paid
// at every plugin start and belongs behind first use (sync.OnceValue).
const maxInitAllocs = 100

var initLine = regexp.MustCompile(`^init (\S+) @\S+ ms, \S+ ms clock, \d+ bytes, (\d+) allocs`)

// A built-in plugin process does almost nothing of tokenhost's own before main: the package inits of the
// tokenhost binary, as GODEBUG=inittrace=1 reports them in plugin mode, stay within their allocation
// allowances.
func TestPluginModeInitDoesLittleWork(t *testing.T) {
	r := run(t, bins.tokenhost, nil, "GODEBUG=inittrace=1", "TOKENHOST_PLUGIN_COOKIE=d4c1b1e0-tokenhost-source",
		"TOKENHOST_BUILTIN_PLUGIN=gateway", "TOKENHOST_BUILTIN_DESCRIBE=env")
	if r.code != 0 {
		t.Fatalf("plugin mode, describe: %s", r)
	}
	seen := 0
	for _, line := range strings.Split(r.stderr, "\n") {
		m := initLine.FindStringSubmatch(line)
		if m == nil || (m[1] != "main" && !strings.HasPrefix(m[1], module)) {
			continue
		}
		seen++
		allocs, _ := strconv.Atoi(m[2])
		if allocs > maxInitAllocs {
			t.Errorf("package %s allocates %d times at init in every plugin process, allowed %d: move the work behind first use", m[1], allocs, maxInitAllocs)
		}
	}
	if seen < 5 {
		t.Fatalf("inittrace showed %d tokenhost packages; want the plugin process's package inits\n%s", seen, r)
	}
}
