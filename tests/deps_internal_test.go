package tests

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// pluginLeaves are the packages under the module's internal/ that the built-in plugins may import: the
// rules and small helpers the host uses too (docs/architecture.md lists them), which import the standard
// library alone, so a plugin links nothing of the host through them.
var pluginLeaves = []string{"atomicfile", "excerpt", "fileowner", "fsmsg", "homedir", "netaddr", "secretopt", "suggest"}

// goList runs `go list` with args from the module root and returns its output's lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestPluginsImportOnlyLeavesOfInternal keeps docs/architecture.md's rule that the built-in plugins
// import sdk, plugins/internal/* and, of the host's internal/, only the standard-library leaves above.
func TestPluginsImportOnlyLeavesOfInternal(t *testing.T) {
	prefix := module + "/internal/"
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./plugins/...") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			if leaf, ok := strings.CutPrefix(imp, prefix); ok && !slices.Contains(pluginLeaves, leaf) {
				t.Errorf("%s imports %s; the plugins may import only %v of internal/", pkg, imp, pluginLeaves)
			}
		}
	}
	for _, leaf := range pluginLeaves {
		for _, dep := range goList(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./internal/"+leaf) {
			if dep != "" && dep != prefix+leaf {
				t.Errorf("internal/%s depends on %s; a package the plugins share with the host imports the standard library alone", leaf, dep)
			}
		}
	}
}
