package tests

import (
	"strings"
	"testing"
)

// TestEmbedding runs a program that embeds core (tests/testdata/embed) three ways: calling
// core.ServeIfPlugin() first thing in main, pointing core.Options.PluginExecutable at the tokenhost
// binary, and doing neither. The first two get a token the endpoint issued through a built-in plugin
// process; the third fails at once with the message that tells the embedder what to do, without starting
// any process. After every run no process the program started is left (checked by run).
func TestEmbedding(t *testing.T) {
	needBinaries(t)
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")

	for _, mode := range []string{"serveifplugin", "executable=" + bins.tokenhost} {
		name := mode
		if strings.HasPrefix(mode, "executable=") {
			name = "PluginExecutable"
		}
		t.Run(name, func(t *testing.T) {
			before := g.idp.Issued()
			r := run(t, bins.embed, []string{mode, cfg, "corp"}, env...)
			if r.code != 0 {
				t.Fatalf("the embedding program failed\n%s", r)
			}
			if !oneLine(r.stdout) {
				t.Fatalf("stdout is not one line\n%s", r)
			}
			if !g.idp.Valid(strings.TrimSpace(r.stdout)) {
				t.Errorf("the embedding program printed a value that is not a valid issued token\n%s", r)
			}
			if g.idp.Issued() != before+1 {
				t.Errorf("the token endpoint issued %d tokens for one Provider.Token, want 1", g.idp.Issued()-before)
			}
		})
	}

	// A program that imports core alone runs the built-ins of the installed tokenhost binary.
	t.Run("lean", func(t *testing.T) {
		before := g.idp.Issued()
		r := run(t, bins.lean, []string{bins.tokenhost, cfg, "corp"}, env...)
		if r.code != 0 {
			t.Fatalf("the lean embedding program failed\n%s", r)
		}
		if !oneLine(r.stdout) || !g.idp.Valid(strings.TrimSpace(r.stdout)) {
			t.Errorf("the lean embedding program did not print one valid issued token\n%s", r)
		}
		if g.idp.Issued() != before+1 {
			t.Errorf("the token endpoint issued %d tokens for one Provider.Token, want 1", g.idp.Issued()-before)
		}
	})

	t.Run("neither", func(t *testing.T) {
		before := g.idp.Requests()
		r := run(t, bins.embed, []string{"neither", cfg, "corp"}, env...)
		if r.code != 1 {
			t.Fatalf("the embedding program that did neither exited %d, want 1\n%s", r.code, r)
		}
		if r.stdout != "" {
			t.Errorf("stdout is not empty\n%s", r)
		}
		for _, want := range []string{"core.ServeIfPlugin()", "PluginExecutable"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not mention %s\n%s", want, r)
			}
		}
		if n := g.idp.Requests() - before; n != 0 {
			t.Errorf("the token endpoint got %d requests; no plugin should have run", n)
		}
	})
}
