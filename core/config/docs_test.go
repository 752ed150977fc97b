package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every complete YAML example in the docs (a block that starts with server: or providers:) loads.
func TestDocsYAMLExamplesLoad(t *testing.T) {
	loaded := 0
	for _, doc := range []string{"../../docs/configuration.md", "../../docs/serving.md", "../../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(b), "```yaml\n")[1:]
		for i, blk := range blocks {
			src, _, _ := strings.Cut(blk, "```")
			if !strings.HasPrefix(src, "server:") && !strings.HasPrefix(src, "providers:") {
				continue // a fragment (an options block), not a whole file
			}
			dir := t.TempDir()
			_, err := Parse([]byte(src), filepath.Join(dir, "tokenhost.yaml"),
				Sources{Builtins: builtins, Dir: dir, Environ: []string{"CORP_CLIENT_SECRET=s"}})
			if err != nil {
				t.Errorf("%s, yaml block %d does not load: %v", filepath.Base(doc), i+1, err)
			}
			loaded++
		}
	}
	if loaded < 3 {
		t.Fatalf("found %d complete YAML examples, want the ones in configuration.md, serving.md and README.md", loaded)
	}
}
