package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/tokenhost/tokenhost/internal/nodetools"
)

// Scopes of the test MCP server: every call needs mcpRead; the tool "admin" needs mcpAdmin too.
const (
	mcpRead  = "tools:read"
	mcpAdmin = "tools:admin"
)

// mcpAS is panva's oidc-provider (testdata/mcpas/as.mjs) on a loopback port: the MCP server's
// authorization server.
type mcpAS struct {
	issuer string
}

// asStats are the authorization server's counts: refresh tokens presented again after rotation, grants
// revoked, refreshes granted, clients registered.
type asStats struct {
	Reused, Revoked, Refreshed, Registered int
}

// startMCPAS starts the authorization server for resource, with the machine clients (m2m, nightly-agent)
// whose secret is m2mSecret; access tokens live ttl seconds; env adds to its environment. It is stopped at
// cleanup.
func startMCPAS(t *testing.T, resource, m2mSecret string, ttl int, env ...string) *mcpAS {
	t.Helper()
	node, mods := nodetools.Node(t), nodetools.Modules(t, "oidc-provider")
	script, err := filepath.Abs(filepath.Join("testdata", "mcpas", "as.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, filepath.Join(mods, "oidc-provider"), resource, m2mSecret)
	cmd.Env = append(childEnv(t, env...), fmt.Sprintf("AS_ACCESS_TTL=%d", ttl))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	issuer, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("the authorization server did not start: %v %q\n%s", err, line, stderr.String())
	}
	return &mcpAS{issuer: issuer}
}

// stats reads the authorization server's counts.
func (a *mcpAS) stats(t *testing.T) asStats {
	t.Helper()
	resp, err := http.Get(a.issuer + "/test/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s asStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// isTestServer reports whether cmdline (NUL-separated) is a test's own authorization server.
func isTestServer(cmdline string) bool {
	args := strings.Split(cmdline, "\x00")
	return len(args) > 1 && filepath.Base(args[0]) == "node" && strings.HasSuffix(args[1], filepath.Join("testdata", "mcpas", "as.mjs"))
}

// mcpServer is the Go MCP SDK's streamable server behind auth.RequireBearerToken: tokens are JWTs the
// authorization server signed for this server's resource; it advertises its protected-resource metadata
// and answers a call of the tool "admin" without mcpAdmin with 403 insufficient_scope.
type mcpServer struct {
	URL      string // the MCP endpoint, also the resource
	metadata string // the protected-resource metadata URL
	issuer   atomic.Pointer[string]
	mu       sync.Mutex
	keys     *jose.JSONWebKeySet
	seen     sync.Map // access token -> its scopes
	revoked  sync.Map // access tokens revokeSeen revoked
}

// startMCPServer starts the server; setIssuer names its authorization server before any request.
func startMCPServer(t *testing.T) *mcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	s := &mcpServer{URL: base + "/mcp", metadata: base + "/.well-known/oauth-protected-resource/mcp"}
	server := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "1"}, nil)
	type echoIn struct {
		Text string `json:"text"`
	}
	echo := func(name string) mcp.ToolHandlerFor[echoIn, any] {
		return func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ": " + in.Text}}}, nil, nil
		}
	}
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "echoes text"}, echo("echo"))
	mcp.AddTool(server, &mcp.Tool{Name: "admin", Description: "echoes text, for tools:admin"}, echo("admin"))
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	protected := auth.RequireBearerToken(s.verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: s.metadata, Scopes: []string{mcpRead}})
	mux := http.NewServeMux()
	mux.Handle("/mcp", protected(s.adminScope(handler)))
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
			Resource: s.URL, AuthorizationServers: []string{*s.issuer.Load()}, ScopesSupported: []string{mcpRead, mcpAdmin},
		}).ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *mcpServer) setIssuer(iss string) { s.issuer.Store(&iss) }

// revokeSeen makes the server reject every access token it has seen so far.
func (s *mcpServer) revokeSeen() {
	s.seen.Range(func(k, _ any) bool { s.revoked.Store(k, true); return true })
}

// mcpClaims are the access token claims the server reads.
type mcpClaims struct {
	jwt.Claims
	Scope string `json:"scope"`
}

// verify is the server's check of a bearer token it is sent; it records the tokens it accepts.
func (s *mcpServer) verify(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	info, err := s.check(token)
	if err == nil {
		s.seen.Store(token, info.Scopes)
	}
	return info, err
}

// check checks the token's signature against the authorization server's JWKS, its issuer, that its
// audience is this server, and its expiry.
func (s *mcpServer) check(token string) (*auth.TokenInfo, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		return nil, fmt.Errorf("%w: not a JWT", auth.ErrInvalidToken)
	}
	keys, err := s.jwks()
	if err != nil {
		return nil, err
	}
	if _, gone := s.revoked.Load(token); gone {
		return nil, fmt.Errorf("%w: revoked", auth.ErrInvalidToken)
	}
	var c mcpClaims
	if err := tok.Claims(keys, &c); err != nil {
		return nil, fmt.Errorf("%w: bad signature", auth.ErrInvalidToken)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: *s.issuer.Load(), AnyAudience: jwt.Audience{s.URL}, Time: time.Now()}, 0); err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
	}
	scopes := strings.Fields(c.Scope)
	return &auth.TokenInfo{Scopes: scopes, Expiration: c.Expiry.Time(), UserID: c.Subject}, nil
}

// jwks fetches (once) the authorization server's signing keys.
func (s *mcpServer) jwks() (*jose.JSONWebKeySet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		return s.keys, nil
	}
	resp, err := http.Get(*s.issuer.Load() + "/jwks")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&ks); err != nil {
		return nil, err
	}
	s.keys = &ks
	return s.keys, nil
}

// adminScope answers a tools/call of "admin" whose token lacks mcpAdmin with 403 insufficient_scope.
func (s *mcpServer) adminScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var msg struct {
				Method string `json:"method"`
				Params struct {
					Name string `json:"name"`
				} `json:"params"`
			}
			if json.Unmarshal(body, &msg) == nil && msg.Method == "tools/call" && msg.Params.Name == "admin" {
				if ti := auth.TokenInfoFromContext(r.Context()); ti == nil || !slices.Contains(ti.Scopes, mcpAdmin) {
					w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s %s", resource_metadata="%s"`, mcpRead, mcpAdmin, s.metadata))
					http.Error(w, "insufficient scope", http.StatusForbidden)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// callTool connects to the MCP server through hc and calls the tool name with text; it returns the
// tool's text answer.
func callTool(ctx context.Context, hc *http.Client, endpoint, name, text string) (string, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "tokenhost-test", Version: "1"}, nil)
	sess, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		return "", err
	}
	defer sess.Close()
	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{"text": text}})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) == 0 {
		return "", fmt.Errorf("tool %s answered an error", name)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return "", errors.New("the tool's answer is not text")
	}
	return tc.Text, nil
}

// browser plays the user's browser at the authorization server: it opens link, and at every interaction
// page signs in as account (or consents to what is asked), until the authorization server redirects to
// the loopback redirect of `tokenhost login`. It returns the scopes the interactions asked for.
func browser(t *testing.T, link, account string) []string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.Get(link)
	var asked []string
	for range 5 {
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Request.URL.Path == "/callback" {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("browser: the loopback redirect answered %d: %s", resp.StatusCode, body)
			}
			return asked
		}
		if !strings.HasPrefix(resp.Request.URL.Path, "/interaction/") {
			t.Fatalf("browser: landed on %s (%d): %.300s", resp.Request.URL.Path, resp.StatusCode, body)
		}
		var page struct {
			Scope string `json:"scope"`
		}
		_ = json.Unmarshal(body, &page)
		asked = strings.Fields(page.Scope)
		resp, err = hc.PostForm(resp.Request.URL.String(), url.Values{"login": {account}})
	}
	t.Fatal("browser: more than 5 interaction pages")
	return nil
}

// mcpLogin runs `tokenhost login provider --no-browser` with cfg, plays the browser at the URL it prints,
// and returns its output and the scopes the authorization server was asked for.
func mcpLogin(t *testing.T, cfg, provider string, env ...string) (result, []string) {
	t.Helper()
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.tokenhost, "login", provider, "--no-browser", "--config", cfg)
	cmd.Env = childEnv(t, env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, pw), &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	links := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if f := strings.TrimSpace(sc.Text()); strings.HasPrefix(f, "http") && strings.Contains(f, "/auth?") {
				links <- f
			}
		}
		close(links)
	}()
	var asked []string
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); pw.Close() }()
	ended := false
	defer func() {
		// A browser step that failed the test leaves the login waiting for its redirect: interrupt it, as
		// the user would, so that it and its plugin are gone before the next test looks for strays.
		if !ended {
			_ = cmd.Process.Signal(os.Interrupt)
			<-waited
		}
	}()
	select {
	case link, ok := <-links:
		if ok {
			asked = browser(t, link, "alice")
		}
	case <-waited:
		waited <- nil
	}
	<-waited
	ended = true
	r := result{name: "tokenhost login " + provider, stdout: stdout.String(), stderr: stderr.String()}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	checkNoStrays(t, r.name)
	return r, asked
}
