package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every YAML block of docs/groups.md loads, and its groups are what the page says they are.
func TestGroupsDocYAMLLoads(t *testing.T) {
	b, err := os.ReadFile("../../docs/groups.md")
	if err != nil {
		t.Fatal(err)
	}
	var groups []*Group
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	for i, blk := range blocks {
		src, _, _ := strings.Cut(blk, "```")
		dir := t.TempDir()
		cfg, err := Parse([]byte(src), filepath.Join(dir, "tokenhost.yaml"), Sources{Builtins: builtins, Dir: dir, Environ: []string{"CORP_CLIENT_SECRET=s"}})
		if err != nil {
			t.Errorf("docs/groups.md, yaml block %d does not load: %v", i+1, err)
			continue
		}
		groups = append(groups, cfg.Groups...)
	}
	if len(groups) != 2 {
		t.Fatalf("found %d groups in the page's YAML blocks, want the two examples", len(groups))
	}
	if m := groups[1].Members; len(m) != 2 || m[0].ModelMap["gpt-4o"] != "east-gpt4o-deployment" || groups[1].Strategy != StrategyRoundRobin {
		t.Errorf("the model_map example loads as %+v", groups[1])
	}
}
