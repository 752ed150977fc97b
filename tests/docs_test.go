package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
)

// fence matches a fenced code block: its language and its text.
var fence = regexp.MustCompile("(?ms)^```(\\w+)\\n(.*?)^```$")

// TestWritingAPluginCompiles compiles every Go block of docs/writing-a-plugin.md (each starts with a
// "// file: dir/name.go" line saying where it goes) as one module that uses this checkout, loads its YAML
// blocks as tokenhost configuration, and keeps the corporate example identical to examples/plugin.
func TestWritingAPluginCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "writing-a-plugin.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "examples", "plugin", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	writeFile(t, mod, "go.mod", "module docblocks\n\ngo 1.26\n\nrequire github.com/tokenhost/tokenhost v0.0.0\n\nreplace github.com/tokenhost/tokenhost => "+root+"\n")
	goFiles, yamlBlocks := 0, 0
	for _, m := range fence.FindAllStringSubmatch(string(doc), -1) {
		lang, text := m[1], m[2]
		switch lang {
		case "go":
			first, rest, _ := strings.Cut(text, "\n")
			name, ok := strings.CutPrefix(first, "// file: ")
			if !ok {
				t.Errorf("a Go block does not start with a // file: line: %.60q", text)
				continue
			}
			if err := os.MkdirAll(filepath.Join(mod, filepath.Dir(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, mod, name, rest)
			goFiles++
			if name == "corp/main.go" && !strings.HasSuffix(string(example), rest) {
				t.Error("the corporate plugin on the page is not examples/plugin/main.go; copy it over")
			}
		case "yaml":
			yamlBlocks++
			if _, err := config.Parse([]byte(text), "docs/writing-a-plugin.md", config.Sources{Builtins: core.Builtins(), Environ: []string{"CORP_SSO_CLIENT_SECRET=example"}}); err != nil {
				t.Errorf("a YAML block does not load: %v", err)
			}
		}
	}
	if goFiles < 3 || yamlBlocks < 1 {
		t.Fatalf("found %d Go and %d YAML blocks; the page lost its examples", goFiles, yamlBlocks)
	}
	goCmd(t, mod, "mod", "tidy")
	goCmd(t, mod, "vet", "./...") // compiles every file, tests included
}
