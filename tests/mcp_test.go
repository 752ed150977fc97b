package tests

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

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
	_ = h.Close()

	r = tokenhost(t, cfg, nil, "logout", "tools")
	if r.code != 0 || !strings.Contains(r.stdout, "Revoked at "+s.as.issuer) {
		t.Fatalf("logout did not revoke the sign-in at the authorization server\n%s", r)
	}
	if st := s.as.stats(t); st.Revoked != 1 {
		t.Errorf("%d grants revoked by logout; want 1", st.Revoked)
	}
}

// TestMCPStepUpClientCredentials: a machine client asks for the scope the server's challenge names; a tool
// that needs more answers 403 insufficient_scope, and the host gets a token for the union of the scopes
// and resends the call, which the caller never sees fail.
func TestMCPStepUpClientCredentials(t *testing.T) {
	s := startMCP(t, 600)
	t.Setenv("MCP_M2M_SECRET", s.m2m)
	cfg := s.config(t, "grant: client_credentials", "client_id: m2m", "client_secret_env: MCP_M2M_SECRET")
	h := openHost(t, cfg)
	hc, err := h.Client("tools")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := callTool(ctx, hc, s.srv.URL, "echo", "one"); err != nil || got != "echo: one" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	first, err := h.Provider("tools")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := first.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := jwtClaims(t, tok.Value); c["scope"] != mcpRead || c["aud"] != s.srv.URL {
		t.Fatalf("the first token has scope %v and aud %v; want %s for %s", c["scope"], c["aud"], mcpRead, s.srv.URL)
	}
	got, err := callTool(ctx, hc, s.srv.URL, "admin", "two")
	if err != nil || got != "admin: two" {
		t.Fatalf("a call needing %s after the step-up: %q, %v", mcpAdmin, got, err)
	}
	tok, err = first.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := jwtClaims(t, tok.Value); c["scope"] != mcpRead+" "+mcpAdmin {
		t.Errorf("the stepped-up token has scope %v; want %q", c["scope"], mcpRead+" "+mcpAdmin)
	}
}

// TestMCPStepUpSignInNeedsLogin: a person's sign-in holds tools:read; a tool that needs tools:admin makes
// the host ask the authorization server to widen the grant by refresh, which it refuses, so the call
// fails with reauth_required naming `tokenhost login tools` and the scopes; the next login asks for
// both, and the call succeeds.
func TestMCPStepUpSignInNeedsLogin(t *testing.T) {
	s := startMCP(t, 600)
	store := filepath.Join(t.TempDir(), "tools.json")
	cfg := s.config(t, "store: "+store)
	if r, _ := mcpLogin(t, cfg, "tools"); r.code != 0 {
		t.Fatalf("login\n%s", r)
	}
	h := openHost(t, cfg)
	hc, err := h.Client("tools")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = callTool(ctx, hc, s.srv.URL, "admin", "x")
	if err == nil {
		t.Fatal("a call needing a scope the sign-in lacks succeeded")
	}
	for _, want := range []string{"tokenhost login tools", mcpRead + " " + mcpAdmin} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the failed call's error does not name %q: %v", want, err)
		}
	}
	if st := s.as.stats(t); st.Reused != 0 || st.Revoked != 0 {
		t.Errorf("authorization server counts %+v: the step-up burned the sign-in", st)
	}
	if got, err := callTool(ctx, hc, s.srv.URL, "echo", "still"); err != nil || got != "echo: still" {
		t.Fatalf("the sign-in no longer works for what it holds: %q, %v", got, err)
	}
	_ = h.Close() // its plugin process is a child of this test, which the login's stray check would see

	r, asked := mcpLogin(t, cfg, "tools")
	if r.code != 0 {
		t.Fatalf("second login\n%s", r)
	}
	if !slices.Equal(asked, []string{mcpRead, mcpAdmin}) {
		t.Errorf("the second sign-in asked for %q; want %q", asked, []string{mcpRead, mcpAdmin})
	}
	h2 := openHost(t, cfg)
	hc2, err := h2.Client("tools")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := callTool(ctx, hc2, s.srv.URL, "admin", "y"); err != nil || got != "admin: y" {
		t.Fatalf("a call needing %s after signing in for it: %q, %v", mcpAdmin, got, err)
	}
	if st := s.as.stats(t); st.Registered != 1 {
		t.Errorf("%d clients registered; the second sign-in should reuse the first registration", st.Registered)
	}
}

// TestMCPStdioBridgeSignedIn: an MCP client that launches `tokenhost mcp stdio tools` reaches a server
// signed in with the mcp plugin, and a tool call after the server revoked the token in use is refreshed
// and resent without the client noticing.
func TestMCPStdioBridgeSignedIn(t *testing.T) {
	s := startMCP(t, 600)
	cfg := s.config(t, "store: "+filepath.Join(t.TempDir(), "tools.json"))
	if r, _ := mcpLogin(t, cfg, "tools"); r.code != 0 {
		t.Fatalf("login\n%s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.Command(bins.tokenhost, "--config", cfg, "mcp", "stdio", "tools")
	cmd.Env, cmd.Dir = childEnv(t), t.TempDir()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "stdio-client", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, redact(stderr.String()))
	}
	for i, text := range []string{"before", "after revocation"} {
		if i == 1 {
			s.srv.revokeSeen()
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
		if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "echo: "+text {
			t.Fatalf("echo %q: %+v, %v\n%s", text, res, err, redact(stderr.String()))
		}
	}
	_ = cs.Close()
	checkNoStrays(t, "tokenhost mcp stdio tools")
	if st := s.as.stats(t); st.Refreshed != 1 || st.Reused != 0 || st.Revoked != 0 {
		t.Errorf("authorization server counts %+v; want the one refresh the revocation needed", st)
	}
}

// TestMCPDiscoveryFailureNamesTheURL: a server whose metadata names an authorization server that publishes
// no metadata makes `tokenhost login` fail with a line naming that URL and the option that replaces
// discovery.
func TestMCPDiscoveryFailureNamesTheURL(t *testing.T) {
	needBinaries(t)
	srv := startMCPServer(t)
	notAS := strings.TrimSuffix(srv.URL, "/mcp") + "/not-an-authorization-server"
	srv.setIssuer(notAS)
	cfg := writeFile(t, "", "tokenhost-mcp.yaml", fmt.Sprintf("providers:\n  tools:\n    plugin: mcp\n    upstream: %s\n    options:\n      store: %s\n", srv.URL, filepath.Join(t.TempDir(), "tools.json")))
	r := tokenhost(t, cfg, nil, "login", "tools", "--no-browser")
	if r.code == 0 || !strings.Contains(r.stderr, "authorization server "+notAS+" publishes no metadata") || !strings.Contains(r.stderr, "authorization_server") {
		t.Fatalf("login against a server whose authorization server has no metadata\n%s", r)
	}
}

// TestMCPWrongURLNamesUpstream: an upstream where nothing answers but 404 (a mistyped path) makes
// `tokenhost login` fail naming the provider's upstream key, the server's answer, and to check upstream.
func TestMCPWrongURLNamesUpstream(t *testing.T) {
	needBinaries(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	cfg := writeFile(t, "", "tokenhost-mcp.yaml", fmt.Sprintf("providers:\n  tools:\n    plugin: mcp\n    upstream: %s/mpc\n    options:\n      store: %s\n", srv.URL, filepath.Join(t.TempDir(), "tools.json")))
	r := tokenhost(t, cfg, nil, "login", "tools", "--no-browser")
	for _, want := range []string{"providers.tools.upstream: ", srv.URL + "/mpc answered 404", "check upstream"} {
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("login at a URL answering 404 lacks %q\n%s", want, r)
		}
	}
}
