//go:build unix

package tests

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// agentRecipesRun are the recipe blocks of docs/agents.md the agents' tests run.
var agentRecipesRun = []string{
	"codex-run-provider", "codex-run", "codex-serve", "codex-auth", "codex-mcp-server", "codex-mcp-run", "codex-mcp-serve",
	"claude-run", "claude-serve", "claude-helper",
}

// Every code block of docs/agents.md is a recipe one of the agents' tests runs, and every recipe those
// tests run is on the page: a block added without a test, or renamed, fails here.
func TestAgentsPageHasOnlyTestedRecipes(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "agents.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := fence.FindAllString(string(doc), -1)
	marked := agentRecipeMark.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) != len(marked) {
		t.Errorf("docs/agents.md has %d code blocks and %d of them are marked recipes; mark each with <!-- recipe: name --> and run it in a test", len(blocks), len(marked))
	}
	var names []string
	for _, m := range marked {
		if !slices.Contains(agentRecipesRun, m[1]) {
			t.Errorf("recipe %q of docs/agents.md is run by no test", m[1])
		}
		names = append(names, m[1])
	}
	for _, want := range agentRecipesRun {
		if !slices.Contains(names, want) {
			t.Errorf("docs/agents.md lost the recipe %q its tests run", want)
		}
	}
}
