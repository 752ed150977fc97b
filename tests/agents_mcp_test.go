//go:build unix

package tests

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpProbeReply is what the MCP server's one tool answers.
const mcpProbeReply = "tokenhost-mcp-probe: called"

// mcpTools is a loopback MCP server (the Go SDK's streamable HTTP handler) behind the SDK's bearer-token
// check, which accepts the tokens valid reports valid; it has one tool, probe.
type mcpTools struct {
	srv                      *httptest.Server
	calls, admitted, refused atomic.Int64
	// afterFirst, when set, runs with the token of the first request the bearer check admits.
	afterFirst func(token string)
}

// newMCPTools starts the server; the test's cleanup stops it. Its endpoint is url()+"/mcp".
func newMCPTools(t *testing.T, valid func(string) bool) *mcpTools {
	t.Helper()
	m := &mcpTools{}
	server := mcp.NewServer(&mcp.Implementation{Name: "tokenhost-agents-tools", Version: "1.0.0"}, nil)
	type probeArgs struct{}
	mcp.AddTool(server, &mcp.Tool{Name: "probe", Description: "Answers that it was called."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ probeArgs) (*mcp.CallToolResult, any, error) {
			m.calls.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: mcpProbeReply}}}, nil, nil
		})
	verify := func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if !valid(token) {
			m.refused.Add(1)
			return nil, auth.ErrInvalidToken
		}
		if m.admitted.Add(1) == 1 && m.afterFirst != nil {
			m.afterFirst(token)
		}
		return &auth.TokenInfo{UserID: "tools-client"}, nil
	}
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	protected := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(handler)
	// The endpoint answers with and without the final slash: what reaches it for a URL that ends in the
	// provider's name is the proxy's business, not this recipe's.
	mux.Handle("/mcp", protected)
	mux.Handle("/mcp/", protected)
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

// url returns the server's root URL.
func (m *mcpTools) url() string { return m.srv.URL }

// The Codex CLI with an MCP server under one `tokenhost run corp tools`, by docs/agents.md's recipe: Codex
// reaches the model (corp) and the MCP server (tools, a gateway provider whose upstream is the server's
// endpoint) through the run's proxy with the run's key alone; the turn calls the server's tool, and the
// tools token is revoked as the MCP session's first request is admitted, so the proxy meets a 401 on a
// later one, refreshes and resends, and Codex sees none of it.
func TestAgentsCodexMCPServerThroughRun(t *testing.T) {
	g := newGatewayFakes(t)
	api := newAgentAPI(t, g.idp.Valid)
	api.toolRounds = 1
	api.callTool = "probe"
	tools := newMCPTools(t, g.idp.Valid)
	tools.afterFirst = g.idp.Revoke // the MCP session's later requests meet a 401 at first
	_, env := agentConfig(t, g, "corp", api.root()+"/v1", "tools", tools.url()+"/mcp")
	h := newAgentHome(t, env...)
	h.write(t, ".codex/config.toml", agentRecipe(t, "codex-run-provider")+"\n"+agentRecipe(t, "codex-mcp-server"))

	r := h.runShell(t, agentRecipe(t, "codex-mcp-run"))
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("the Codex turn with an MCP server under tokenhost run did not complete\n%s\n%s", r, api)
	}
	if n := tools.calls.Load(); n != 1 {
		t.Errorf("the MCP server's tool was called %d times; want once\n%s", n, api)
	}
	if tools.refused.Load() < 1 {
		t.Errorf("the MCP server refused no request; the revocation did not happen")
	}
	t.Logf("MCP server: %d requests admitted, %d refused; %s", tools.admitted.Load(), tools.refused.Load(), api)
}
