//go:build unix

package tests

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/nodetools"
)

// The Codex CLI and Claude Code beside one `tokenhost serve`, configured by docs/agents.md's serve recipes
// with only the port substituted: each agent's turn spans two requests, and its provider's token is
// revoked after the first; serve refreshes once and resends, and the agents, which hold only serve's key,
// see none of it.
func TestAgentsThroughServe(t *testing.T) {
	nodetools.Bin(t, "claude")
	g := newGatewayFakes(t)
	codexAPI, claudeAPI := newAgentAPI(t, g.idp.Valid), newAgentAPI(t, g.idp.Valid)
	for _, api := range []*agentAPI{codexAPI, claudeAPI} {
		api.toolRounds = 1
		api.after = func(n int, token string) {
			if n == 1 {
				g.idp.Revoke(token)
			}
		}
	}
	cfg, env := agentConfig(t, g, "corp", codexAPI.root()+"/v1", "corp-claude", claudeAPI.root())
	key := newSecret(t, "serve-key")
	s := startServe(t, cfg, append(env, "TOKENHOST_SERVER__API_KEYS="+key))
	h := newAgentHome(t, "TOKENHOST_SERVE_KEY="+key)
	h.besideServe = true

	h.write(t, ".codex/config.toml", substitute(t, agentRecipe(t, "codex-serve"), "http://127.0.0.1:8787", s.url))
	r := h.runShell(t, `exec codex exec "`+codexPrompt+`"`)
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("the Codex turn through serve did not complete\n%s\n%s\n%s", r, codexAPI, s.stderr)
	}

	claude := substitute(t, agentRecipe(t, "claude-serve"), "http://127.0.0.1:8787", s.url)
	// The page's last line starts Claude Code; "-p" makes it one prompt, as the page says.
	claude = substitute(t, strings.TrimRight(claude, "\n"), "\nclaude", "\nexec claude -p \""+claudePrompt+"\"")
	r = h.runShell(t, claude)
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("claude -p through serve did not complete\n%s\n%s\n%s", r, claudeAPI, s.stderr)
	}

	for name, api := range map[string]*agentAPI{"Codex": codexAPI, "Claude Code": claudeAPI} {
		accepted, rejected := api.counts()
		if accepted != 2 || rejected != 1 || !distinct(api.acceptedTokens()) {
			t.Errorf("%s: want the turn's two requests accepted on two tokens and the revoked one rejected once\n%s", name, api)
		}
		t.Log(name, api)
	}
}
