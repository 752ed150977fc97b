//go:build unix

package tests

import (
	"strings"
	"testing"
	"time"
)

// codexPrompt is the prompt the tests give `codex exec`; the fake model ignores it.
const codexPrompt = "list the TODOs in this repository"

// The Codex CLI's auth command, as docs/agents.md configures it (`tokenhost token corp --helper`, Codex
// calling the upstream itself): the token is revoked after the first request of a turn; Codex gets a 401,
// runs the command again, and `--helper` takes that second run from the same Codex process as the report
// of a rejected token, so the turn completes on a refreshed token. Two tokens in all: the first, and the
// one refresh.
func TestAgentsCodexAuthCommandAfterRevocation(t *testing.T) {
	g := newGatewayFakes(t)
	api := newAgentAPI(t, g.idp.Valid)
	api.toolRounds = 1
	api.after = func(n int, token string) {
		if n == 1 {
			g.idp.Revoke(token)
		}
	}
	_, env := agentConfig(t, g, "corp", api.root()+"/v1")
	h := newAgentHome(t, env...)
	h.write(t, ".codex/config.toml", substitute(t, agentRecipe(t, "codex-auth"), "https://llm.corp.example/v1", api.root()+"/v1"))

	r := h.runShell(t, `exec codex exec "`+codexPrompt+`"`)
	accepted, rejected := api.counts()
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("the Codex turn did not complete after the revocation\n%s\n%s", r, api)
	}
	if rejected != 1 || accepted != 2 {
		t.Errorf("want the revoked token rejected once and the turn's two requests accepted\n%s", api)
	}
	if toks := api.acceptedTokens(); !distinct(toks) {
		t.Errorf("the request after the revocation carried the revoked token\n%s", api)
	}
	if n := g.idp.Issued(); n != 2 {
		t.Errorf("the identity provider issued %d tokens; want 2 (the first, one refresh after the 401)", n)
	}
	t.Log(api)
}

// Codex under `tokenhost run`, configured by docs/agents.md's provider table and run by its command line
// as written: in a turn of three requests, the token is revoked after the first (the run's proxy meets
// the 401, refreshes once and resends) and the refreshed token, issued for three seconds, expires before
// the third (the proxy fetches another before sending). Codex sees neither.
func TestAgentsCodexThroughRun(t *testing.T) {
	g := newGatewayFakes(t)
	api := newAgentAPI(t, g.idp.Valid)
	api.toolRounds = 2
	api.after = func(n int, token string) {
		if n == 1 {
			g.idp.SetExpiresIn(3 * time.Second) // the refresh after the revocation gets a short-lived token
			g.idp.Revoke(token)
		}
	}
	api.before = func(n int, token string) {
		if n == 2 {
			waitInvalid(t, g.idp.Valid, token) // the third request comes after this token has expired
			g.idp.SetExpiresIn(0)
		}
	}
	_, env := agentConfig(t, g, "corp", api.root()+"/v1")
	h := newAgentHome(t, env...)
	h.write(t, ".codex/config.toml", agentRecipe(t, "codex-run-provider"))

	r := h.runShell(t, agentRecipe(t, "codex-run"))
	accepted, rejected := api.counts()
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("the Codex turn under tokenhost run did not complete\n%s\n%s", r, api)
	}
	// One rejection: the revoked token. (A second is possible only if the third request reached the proxy
	// in the moment between the identity provider's clock and tokenhost's passing the expiry.)
	if accepted != 3 || rejected < 1 || rejected > 2 {
		t.Errorf("want three requests accepted and the revoked token rejected once\n%s", api)
	}
	if toks := api.acceptedTokens(); !distinct(toks) {
		t.Errorf("a request after the revocation or the expiry carried the old token\n%s", api)
	}
	t.Log(api)
	if n := g.idp.Issued(); n > 4 {
		t.Errorf("the identity provider issued %d tokens for one revocation and one expiry", n)
	}
}
