//go:build unix

package tests

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/nodetools"
)

// claudePrompt is the prompt the tests give `claude -p`; the fake model ignores it.
const claudePrompt = "list the TODOs in this repository"

// Claude Code's apiKeyHelper, as docs/agents.md configures it (`tokenhost token corp-claude --helper`,
// Claude Code calling the upstream itself): an earlier `tokenhost token` left a token in the cache, and
// that token has been revoked since. Claude Code's first run of the helper gets it (a new process is
// answered from the cache), meets a 401 and runs the helper again; `--helper` takes the second run from
// the same Claude Code process as the report of a rejected token and refreshes, so the prompt is answered
// after one rejection, on the second token issued. (A helper that prints the cached token again costs
// seven rejections and the prompt fails.)
func TestAgentsClaudeHelperAfterRevocation(t *testing.T) {
	nodetools.Bin(t, "claude")
	g := newGatewayFakes(t)
	api := newAgentAPI(t, g.idp.Valid)
	_, env := agentConfig(t, g, "corp-claude", api.root())
	h := newAgentHome(t, append(env, "ANTHROPIC_BASE_URL="+api.root())...)
	h.write(t, ".claude/settings.json", agentRecipe(t, "claude-helper"))

	first := h.runShell(t, "tokenhost token corp-claude")
	if first.code != 0 || !oneLine(first.stdout) {
		t.Fatalf("tokenhost token corp-claude\n%s", first)
	}
	g.idp.Revoke(strings.TrimSpace(first.stdout))

	r := h.runShell(t, `exec claude -p "`+claudePrompt+`"`)
	accepted, rejected := api.counts()
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("claude -p did not get its answer after the revocation\n%s\n%s", r, api)
	}
	if rejected != 1 || accepted != 1 {
		t.Errorf("want the revoked token rejected once, then the prompt answered\n%s", api)
	}
	if n := g.idp.Issued(); n != 2 {
		t.Errorf("the identity provider issued %d tokens; want 2 (the cached one, one refresh after the 401)", n)
	}
	t.Log(api)
}

// Claude Code under `tokenhost run`, by docs/agents.md's command line as written: the token is revoked
// after the first request of a turn of two (a tool call, then the answer); the run's proxy meets the 401,
// refreshes once and resends, and Claude Code sees none of it.
func TestAgentsClaudeThroughRun(t *testing.T) {
	nodetools.Bin(t, "claude")
	g := newGatewayFakes(t)
	api := newAgentAPI(t, g.idp.Valid)
	api.toolRounds = 1
	api.after = func(n int, token string) {
		if n == 1 {
			g.idp.Revoke(token)
		}
	}
	_, env := agentConfig(t, g, "corp-claude", api.root())
	h := newAgentHome(t, env...)

	r := h.runShell(t, agentRecipe(t, "claude-run"))
	accepted, rejected := api.counts()
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("claude -p under tokenhost run did not complete\n%s\n%s", r, api)
	}
	if accepted != 2 || rejected != 1 {
		t.Errorf("want the turn's two requests accepted and the revoked token rejected once\n%s", api)
	}
	if toks := api.acceptedTokens(); !distinct(toks) {
		t.Errorf("the request after the revocation carried the revoked token\n%s", api)
	}
	t.Log(api)
}
