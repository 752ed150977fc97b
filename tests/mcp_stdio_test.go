package tests

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/mcptest"
)

// mcpToolsConfig writes a configuration whose provider "tools" is the MCP server srv, its tokens from the
// gateway plugin's client-credentials grant at idp, and returns its path and the environment it needs.
func mcpToolsConfig(t *testing.T, srv *mcptest.Server, idp *fakes.OAuthServer, secret string) (string, []string) {
	t.Helper()
	return toolsConfigAt(t, srv.Endpoint(), idp.TokenURL(), secret, "      scopes: [tools]\n")
}

// toolsConfigAt writes a configuration whose provider "tools" forwards to upstream with tokens from the
// gateway plugin's client-credentials grant at tokenURL (client mcp-client, its secret in TOOLS_SECRET),
// extra appended to its options, and returns its path and the environment it needs.
func toolsConfigAt(t *testing.T, upstream, tokenURL, secret, extra string) (string, []string) {
	t.Helper()
	cfg := fmt.Sprintf(`providers:
  tools:
    plugin: gateway
    upstream: %s
    options:
      grant: client_credentials
      token_url: %s
      client_id: mcp-client
      client_secret_env: TOOLS_SECRET
`, upstream, tokenURL) + extra
	return writeFile(t, "", "tokenhost-mcp.yaml", cfg), []string{"TOOLS_SECRET=" + secret}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An MCP client that launches stdio servers runs `tokenhost mcp stdio tools`: it lists and calls the tools
// of an MCP server behind a bearer check, a token revoked mid-session is replaced without the client
// noticing, the protocol version and session the client negotiated reach the server on every later
// request, and nothing but protocol reaches stdout and no token reaches stderr.
func TestMCPStdioBridge(t *testing.T) {
	needBinaries(t)
	for _, version := range []string{"", "2025-11-25"} {
		name := version
		if name == "" {
			name = "latest"
		}
		t.Run(name, func(t *testing.T) {
			secret := newSecret(t, "mcp-secret")
			idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "mcp-client", ClientSecret: secret})
			t.Cleanup(idp.Close)
			srv := mcptest.New(idp.Valid)
			t.Cleanup(srv.Close)
			cfg, env := mcpToolsConfig(t, srv, idp, secret)

			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := exec.Command(bins.tokenhost, "--config", cfg, "mcp", "stdio", "tools")
			cmd.Env = childEnv(t, env...)
			cmd.Dir = t.TempDir()
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			client := mcp.NewClient(&mcp.Implementation{Name: "stdio-client", Version: "1"}, nil)
			cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: version})
			if err != nil {
				t.Fatalf("connect to `tokenhost mcp stdio tools`: %v\n%s", err, redact(stderr.String()))
			}
			tools, err := cs.ListTools(ctx, nil)
			if err != nil || len(tools.Tools) != 2 {
				t.Fatalf("ListTools: %+v, %v\n%s", tools, err, redact(stderr.String()))
			}
			call := func(text string) {
				t.Helper()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
				if err != nil || res.IsError || len(res.Content) != 1 {
					t.Fatalf("echo %q: %+v, %v\n%s", text, res, err, redact(stderr.String()))
				}
				if got := res.Content[0].(*mcp.TextContent).Text; got != text {
					t.Fatalf("echo %q answered %q", text, got)
				}
			}
			call("hello")
			issued := idp.Issued()
			idp.RevokeAll()
			call("after revocation")
			if idp.Issued() != issued+1 {
				t.Fatalf("the identity provider issued %d tokens after the revocation, want 1", idp.Issued()-issued)
			}
			if err := cs.Close(); err != nil {
				t.Logf("close: %v", err)
			}
			if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
				t.Fatalf("`tokenhost mcp stdio` did not exit 0 after the client closed: %v\n%s", cmd.ProcessState, redact(stderr.String()))
			}
			checkNoStrays(t, "tokenhost mcp stdio")

			var rejected, sessions, deletes int
			for _, r := range srv.Requests() {
				if r.Token != "" && strings.Contains(stderr.String(), r.Token) {
					t.Fatalf("a token reached stderr:\n%s", redact(stderr.String()))
				}
				if !r.Authorized {
					rejected++
				}
				if r.Method == "DELETE" {
					deletes++
				}
				if r.Method == "POST" && r.SessionID != "" {
					sessions++
					if version != "" && r.ProtocolVersion != version {
						t.Errorf("a request of session %q carried MCP-Protocol-Version %q, want %q", r.SessionID, r.ProtocolVersion, version)
					}
				}
			}
			if rejected != 1 {
				t.Errorf("the server refused %d requests, want exactly the one with the revoked token", rejected)
			}
			if version != "" && (sessions == 0 || deletes != 1) {
				t.Errorf("%d requests carried the session the server assigned and %d ended it, want some and one DELETE", sessions, deletes)
			}
			if strings.Contains(stderr.String(), secret) {
				t.Fatal("the client secret reached stderr")
			}
		})
	}
}
