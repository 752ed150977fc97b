//go:build unix

package tests

import (
	"context"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// probedMCP is an mcpServer (JWTs of the authorization server, audience checked) whose one tool, probe,
// records the bearer token of each call; it also keeps every bearer token presented to it and counts
// the requests its check refused.
type probedMCP struct {
	*mcpServer
	mu        sync.Mutex
	callTok   []string // the token of each probe call, in order
	presented []string // every bearer token presented, admitted or not
	refused   int
}

// startProbedMCP starts the server; setIssuer names its authorization server before any request.
func startProbedMCP(t *testing.T) *probedMCP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	p := &probedMCP{mcpServer: &mcpServer{URL: base + "/mcp", metadata: base + "/.well-known/oauth-protected-resource/mcp"}}
	server := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "1"}, nil)
	type probeArgs struct{}
	mcp.AddTool(server, &mcp.Tool{Name: "probe", Description: "Answers that it was called."},
		func(_ context.Context, req *mcp.CallToolRequest, _ probeArgs) (*mcp.CallToolResult, any, error) {
			tok := ""
			if req.Extra != nil && req.Extra.Header != nil {
				tok, _ = strings.CutPrefix(req.Extra.Header.Get("Authorization"), "Bearer ")
			}
			p.mu.Lock()
			p.callTok = append(p.callTok, tok)
			p.mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: mcpProbeReply}}}, nil, nil
		})
	verify := func(ctx context.Context, token string, r *http.Request) (*auth.TokenInfo, error) {
		info, err := p.verify(ctx, token, r)
		p.mu.Lock()
		p.presented = append(p.presented, token)
		if err != nil {
			p.refused++
		}
		p.mu.Unlock()
		return info, err
	}
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	protected := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: p.metadata, Scopes: []string{mcpRead}})
	mux := http.NewServeMux()
	mux.Handle("/mcp", protected(handler))
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
			Resource: p.URL, AuthorizationServers: []string{*p.issuer.Load()}, ScopesSupported: []string{mcpRead},
		}).ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// calls returns the token of each probe call and every token presented, and the refusals.
func (p *probedMCP) calls() (callTok, presented []string, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.callTok...), append([]string(nil), p.presented...), p.refused
}

// mcpPluginAgent is one Codex-with-MCP-provider setup: the fake model behind the gateway provider corp,
// the MCP server behind `plugin: mcp` provider tools (its URL alone), signed in as the page says.
type mcpPluginAgent struct {
	g   *gatewayFakes
	api *agentAPI
	srv *probedMCP
	cfg string
	env []string
}

// newMCPPluginAgent starts the fakes, panva's oidc-provider and the MCP server, writes the configuration
// with `tools` as `plugin: mcp` and only its upstream, makes the agent's home and signs in with
// `tokenhost login tools` (a dynamically registered public client). The server rejects every token it
// has seen once the model's first request arrives, which is after Codex listed the server's tools and
// before it calls one.
func newMCPPluginAgent(t *testing.T, extra ...string) (*mcpPluginAgent, *agentHome) {
	t.Helper()
	a := &mcpPluginAgent{g: newGatewayFakes(t), srv: startProbedMCP(t)}
	as := startMCPAS(t, a.srv.URL, newSecret(t, "unused-machine-secret"), 600)
	a.srv.setIssuer(as.issuer)
	a.api = newAgentAPI(t, a.g.idp.Valid)
	a.api.toolRounds = 1
	a.api.callTool = "probe"
	a.api.before = func(n int, _ string) {
		if n == 1 {
			a.srv.revokeSeen()
		}
	}
	a.cfg, a.env = agentConfig(t, a.g, "corp", a.api.root()+"/v1")
	f, err := os.OpenFile(a.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("  tools:\n    plugin: mcp\n    upstream: " + a.srv.URL + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	h := newAgentHome(t, append(a.env, extra...)...)
	if r, _ := mcpLogin(t, a.cfg, "tools", h.env...); r.code != 0 {
		t.Fatalf("tokenhost login tools, the sign-in before Codex starts:\n%s", r)
	}
	return a, h
}

// check asserts what a finished Codex turn left: the probe called once with a token the server accepts
// (the server its audience) that is not one the server had revoked; a refusal, so the revocation bit; and
// every token presented signed by the authorization server for this server, none of which Codex printed
// or wrote under its home or working directory.
func (a *mcpPluginAgent) check(t *testing.T, h *agentHome, r result) {
	t.Helper()
	callTok, presented, refused := a.srv.calls()
	if len(callTok) != 1 {
		t.Fatalf("the MCP server's tool was called %d times; want once\n%s", len(callTok), a.api)
	}
	if _, err := a.srv.check(callTok[0]); err != nil {
		t.Errorf("the tool was called with a token the server does not accept: %v", err)
	}
	if aud := jwtClaims(t, callTok[0])["aud"]; aud != a.srv.URL {
		t.Errorf("the tool was called with a token for the audience %v; want the server, %s", aud, a.srv.URL)
	}
	if refused < 1 {
		t.Errorf("the MCP server refused no request; the revocation did not happen")
	}
	for _, tok := range presented {
		if parts := strings.Split(tok, "."); len(parts) != 3 || jwtClaims(t, tok)["aud"] != a.srv.URL {
			t.Errorf("a bearer token that is not the authorization server's token for this server reached it (the run's key or another's)")
		}
	}
	secrets := append(presented, a.api.acceptedTokens()...)
	seen := r.stdout + r.stderr
	for _, dir := range []string{filepath.Join(h.dir, ".codex"), h.work} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if b, err := os.ReadFile(path); err == nil {
					seen += string(b)
				}
			}
			return nil
		})
	}
	for _, tok := range secrets {
		if tok != "" && strings.Contains(seen, tok) {
			t.Errorf("a provider token appears in Codex's output or files; Codex must hold only tokenhost's key")
			break
		}
	}
	t.Logf("MCP server: %d tokens presented, %d refused; %s", len(presented), refused, a.api)
}

// The Codex CLI with an MCP server that follows the MCP authorization spec, under one `tokenhost run
// corp tools` by docs/agents.md's recipe, where tools is `plugin: mcp` configured by the server's URL
// alone against panva's oidc-provider, signed in once with `tokenhost login tools`: the turn calls the
// server's tool with a token for that server, the server revokes the session's token before the call, the
// proxy refreshes and resends, and Codex holds only the run's key.
func TestAgentsCodexMCPProviderThroughRun(t *testing.T) {
	a, h := newMCPPluginAgent(t)
	h.write(t, ".codex/config.toml", agentRecipe(t, "codex-run-provider")+"\n"+agentRecipe(t, "codex-mcp-server"))
	r := h.runShell(t, agentRecipe(t, "codex-mcp-run"))
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("the Codex turn with the MCP provider under tokenhost run did not complete\n%s\n%s", r, a.api)
	}
	a.check(t, h, r)
}

// The same beside one `tokenhost serve`, by docs/agents.md's serve recipes with only the port
// substituted: Codex reaches the model at /corp and the MCP server at /tools with serve's key alone.
func TestAgentsCodexMCPProviderThroughServe(t *testing.T) {
	key := newSecret(t, "serve-key")
	a, h := newMCPPluginAgent(t, "TOKENHOST_SERVE_KEY="+key)
	s := startServe(t, a.cfg, append(append([]string(nil), h.env...), "TOKENHOST_SERVER__API_KEYS="+key))
	h.besideServe = true
	h.write(t, ".codex/config.toml", substitute(t, agentRecipe(t, "codex-serve"), "http://127.0.0.1:8787", s.url)+"\n"+
		substitute(t, agentRecipe(t, "codex-mcp-serve"), "http://127.0.0.1:8787", s.url))
	r := h.runShell(t, `exec codex exec "`+codexPrompt+`"`)
	if r.code != 0 || !strings.Contains(r.stdout, agentReply) {
		t.Fatalf("the Codex turn with the MCP provider through serve did not complete\n%s\n%s\n%s", r, a.api, s.stderr)
	}
	a.check(t, h, r)
}
