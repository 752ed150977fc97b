package gateway

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// closedURL returns an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// m2mAt returns an mcp source with the client credentials grant for the MCP server at upstream.
func m2mAt(t *testing.T, upstream string) *source {
	t.Helper()
	s := NewMCP().(*source)
	if _, err := s.Configure(t.Context(), map[string]any{"upstream": upstream, "grant": grantClientCredentials, "client_id": "m2m", "client_secret": "s3cret"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// wantUnavailable checks that err is a transient error whose message has each of want.
func wantUnavailable(t *testing.T, err error, want ...string) {
	t.Helper()
	if !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Fatalf("error %v (kind %s); want Unavailable: nothing in the configuration is wrong", err, sdk.KindOf(err))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// TestMCPAuthorizationServerDown: an authorization server the server's metadata names that does not
// answer is a transient failure naming it and what to do, not a configuration error about
// authorization_server.
func TestMCPAuthorizationServerDown(t *testing.T) {
	w := newMCPWorld(t)
	down := closedURL(t)
	w.prm = func() map[string]any {
		return map[string]any{"resource": w.srv.URL + "/mcp", "authorization_servers": []string{down}}
	}
	_, err := m2mAt(t, w.srv.URL+"/mcp").Token(t.Context())
	wantUnavailable(t, err, "authorization server "+down, "could not be reached", "connection refused", "try again once it answers")
}

// TestMCPServerDownSaysWhatToDo: an MCP server that does not answer the probe is a transient failure that
// names the server and the next step.
func TestMCPServerDownSaysWhatToDo(t *testing.T) {
	down := closedURL(t) + "/mcp"
	_, err := m2mAt(t, down).Token(t.Context())
	wantUnavailable(t, err, down+" could not be reached", "try again once it answers")
}

// TestMCPDiscoveryNextStep: a discovery that finds no metadata lists the server's own answer among the
// URLs tried, and names the option to change: upstream when the server says it is another resource or has
// nothing at that path, authorization_server when it publishes no metadata.
func TestMCPDiscoveryNextStep(t *testing.T) {
	cases := map[string]struct {
		path   string
		break_ func(w *mcpWorld)
		key    string
		want   func(w *mcpWorld) []string
	}{
		"metadata for another resource": {"/mcp", func(w *mcpWorld) {
			w.prm = func() map[string]any { return map[string]any{"resource": "https://other.example/mcp"} }
		}, "upstream", func(w *mcpWorld) []string {
			return []string{"check upstream", "https://other.example/mcp"}
		}},
		"nothing at the path": {"/mpc", func(w *mcpWorld) { w.prm = nil }, "upstream", func(w *mcpWorld) []string {
			return []string{w.srv.URL + "/mpc answered 404 to an unauthenticated request, not 401", "check upstream", "set authorization_server"}
		}},
		"a challenge naming no metadata": {"/mcp", func(w *mcpWorld) { w.prm = nil }, "authorization_server", func(w *mcpWorld) []string {
			return []string{w.srv.URL + "/mcp answered 401 naming no resource_metadata", "set authorization_server"}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := newMCPWorld(t)
			c.break_(w)
			s := NewMCP().(*source)
			if _, err := s.Configure(t.Context(), map[string]any{"upstream": w.srv.URL + c.path, "store": filepath.Join(t.TempDir(), "s.json")}); err != nil {
				t.Fatal(err)
			}
			_, err := w.discover(t, s)
			var e *sdk.Error
			if !errors.As(err, &e) || e.Kind != sdk.KindBadConfig || e.Key != c.key {
				t.Fatalf("error %v; want a configuration error about %s", err, c.key)
			}
			for _, want := range c.want(w) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestMCPAuthorizationServerUntrustedIsConfiguration: an authorization server whose certificate is not
// trusted answered, so the failure is a configuration error naming ca_file, not a transient one.
func TestMCPAuthorizationServerUntrustedIsConfiguration(t *testing.T) {
	w := newMCPWorld(t)
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(untrusted.Close)
	w.prm = func() map[string]any {
		return map[string]any{"resource": w.srv.URL + "/mcp", "authorization_servers": []string{untrusted.URL}}
	}
	_, err := m2mAt(t, w.srv.URL+"/mcp").Token(t.Context())
	var e *sdk.Error
	if !errors.As(err, &e) || e.Kind != sdk.KindBadConfig || e.Key != "ca_file" || !strings.Contains(err.Error(), untrusted.URL) {
		t.Fatalf("error %v (kind %s); want a configuration error about ca_file naming %s", err, sdk.KindOf(err), untrusted.URL)
	}
}
