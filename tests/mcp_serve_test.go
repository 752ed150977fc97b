package tests

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/mcptest"
)

// The MCP Go SDK's Streamable HTTP client reaches an MCP server behind the SDK's bearer check through a
// running `tokenhost serve` at /tools, and keeps working after its token is revoked.
func TestMCPClientThroughServe(t *testing.T) {
	secret := newSecret(t, "mcp-secret")
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "mcp-client", ClientSecret: secret})
	t.Cleanup(idp.Close)
	srv := mcptest.New(idp.Valid)
	t.Cleanup(srv.Close)
	cfg, env := mcpToolsConfig(t, srv, idp, secret)
	s := startServe(t, cfg, env)

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.url + "/tools"}, nil)
	if err != nil {
		t.Fatalf("connect through serve: %v\n%s", err, s.stderr)
	}
	defer cs.Close()
	for i, text := range []string{"one", "two"} {
		if i == 1 {
			idp.RevokeAll()
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
		if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != text {
			t.Fatalf("echo %q through serve: %+v, %v\n%s", text, res, err, s.stderr)
		}
	}
	for _, r := range srv.Requests() {
		if r.Path != mcptest.Path {
			t.Fatalf("a request reached the server at %q, want %q", r.Path, mcptest.Path)
		}
	}
}
