package tests

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
)

// mcpSetup is an MCP server and its authorization server.
type mcpSetup struct {
	srv *mcpServer
	as  *mcpAS
	m2m string // the machine client's secret
}

// startMCP starts the MCP server and its authorization server; access tokens live ttl seconds.
func startMCP(t *testing.T, ttl int) *mcpSetup {
	t.Helper()
	needBinaries(t)
	s := &mcpSetup{srv: startMCPServer(t), m2m: newSecret(t, "m2m")}
	s.as = startMCPAS(t, s.srv.URL, s.m2m, ttl)
	s.srv.setIssuer(s.as.issuer)
	return s
}

// config writes a configuration whose provider tools is the MCP server, with options (YAML lines under
// options:, indented six spaces).
func (s *mcpSetup) config(t *testing.T, options ...string) string {
	t.Helper()
	opts := ""
	if len(options) > 0 {
		opts = "    options:\n      " + strings.Join(options, "\n      ") + "\n"
	}
	return writeFile(t, "", "tokenhost-mcp.yaml", fmt.Sprintf("providers:\n  tools:\n    plugin: mcp\n    upstream: %s\n%s", s.srv.URL, opts))
}

// openHost opens an embedded host of cfg whose built-in plugins run from the tokenhost binary.
func openHost(t *testing.T, cfg string) *core.Host {
	t.Helper()
	h, err := core.Open(context.Background(), core.Options{ConfigFile: cfg, PluginExecutable: bins.tokenhost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// jwtClaims decodes (without checking) a JWT's payload.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token is not a JWT")
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMCPFromTheURLAlone: a provider configured by the MCP server's URL alone discovers the authorization
// server from the server's 401, registers a client dynamically, signs a person in with PKCE for the scope
// the server's challenge names and the server as resource, and an embedded host's client calls a tool
// through the Go MCP SDK's streamable client.
func TestMCPFromTheURLAlone(t *testing.T) {
	s := startMCP(t, 600)
	store := filepath.Join(t.TempDir(), "state", "tools.json")
	cfg := s.config(t, "store: "+store)

	r := tokenhost(t, cfg, nil, "token", "tools")
	if r.code == 0 || !strings.Contains(r.stderr, "tokenhost login tools") {
		t.Fatalf("token before login should tell the user to run `tokenhost login tools`\n%s", r)
	}
	r, asked := mcpLogin(t, cfg, "tools")
	if r.code != 0 || !strings.Contains(r.stdout, "Signed in") {
		t.Fatalf("login failed\n%s", r)
	}
	if !slices.Equal(asked, []string{mcpRead}) {
		t.Errorf("the sign-in asked for scopes %q; want the scope of the server's challenge, %q", asked, mcpRead)
	}
	if st := s.as.stats(t); st.Registered != 1 {
		t.Errorf("%d clients registered; want 1", st.Registered)
	}
	fi, err := os.Stat(store)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored sign-in: %v %v", fi, err)
	}
	data, _ := os.ReadFile(store)
	if !strings.Contains(string(data), `"registered": "dynamic"`) || !strings.Contains(string(data), `"issuer": "`+s.as.issuer+`"`) {
		t.Errorf("the stored sign-in does not keep the registration and the authorization server")
	}

	r = tokenhost(t, cfg, nil, "token", "tools")
	if r.code != 0 {
		t.Fatalf("token after login\n%s", r)
	}
	if c := jwtClaims(t, strings.TrimSpace(r.stdout)); c["aud"] != s.srv.URL || c["scope"] != mcpRead {
		t.Errorf("the access token's aud is %v and scope %v; want the MCP server %s (the resource) and %s", c["aud"], c["scope"], s.srv.URL, mcpRead)
	}

	h := openHost(t, cfg)
	hc, err := h.Client("tools")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := callTool(ctx, hc, s.srv.URL, "echo", "hello")
	if err != nil || got != "echo: hello" {
		t.Fatalf("tool call through the embedded host: %q, %v", got, err)
	}
	if st := s.as.stats(t); st.Registered != 1 || st.Reused != 0 || st.Revoked != 0 {
		t.Errorf("authorization server counts %+v; want one registration, no reuse, no revocation", st)
	}
}
