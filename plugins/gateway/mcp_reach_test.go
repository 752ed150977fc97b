package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// privateAS is an authorization server on a private address (127.0.0.1): its metadata at /as, a token
// endpoint, a registration endpoint, and protected-resource metadata for resource. Its URLs follow the
// host a request named, so it answers as http://localhost:<port> too. conns counts every connection made
// to it; forms records the token requests it got.
type privateAS struct {
	srv   *httptest.Server
	conns atomic.Int32
	mu    sync.Mutex
	forms []string
}

func newPrivateAS(t *testing.T, resource, prmIssuer string) *privateAS {
	p := &privateAS{}
	p.srv = serveAt(t, "127.0.0.1", &p.conns, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		rw.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-protected-resource":
			_ = json.NewEncoder(rw).Encode(map[string]any{"resource": resource, "authorization_servers": []string{prmIssuer}})
		case "/.well-known/oauth-authorization-server/as":
			_ = json.NewEncoder(rw).Encode(map[string]any{"issuer": base + "/as", "authorization_endpoint": base + "/as/authorize",
				"token_endpoint": base + "/as/token", "response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"}})
		case "/as/token":
			_ = r.ParseForm()
			p.mu.Lock()
			p.forms = append(p.forms, r.PostForm.Encode())
			p.mu.Unlock()
			_, _ = rw.Write([]byte(`{"access_token":"from-private","token_type":"Bearer","expires_in":600}`))
		case "/register":
			rw.WriteHeader(http.StatusCreated)
			_, _ = rw.Write([]byte(`{"client_id":"private-client"}`))
		default:
			http.NotFound(rw, r)
		}
	}))
	return p
}

// url is the server's base URL with host (127.0.0.1 or localhost).
func (p *privateAS) url(host string) string {
	return strings.Replace(p.srv.URL, "127.0.0.1", host, 1)
}

// wantRefused checks that err is the reach rule's BadConfig naming each of want, and that nothing reached p.
func wantRefused(t *testing.T, err error, p *privateAS, want ...string) {
	t.Helper()
	var se *sdk.Error
	if !sdk.IsKind(err, sdk.KindBadConfig) || !errors.As(err, &se) || se.Key != "authorization_server" {
		t.Fatalf("got %v; want a BadConfig for authorization_server", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error %q does not say %q", err, w)
		}
	}
	if n := p.conns.Load(); n != 0 {
		t.Errorf("the private server got %d connections; want none", n)
	}
}

// TestMCPPublicServerLeadsNowherePrivate: an MCP server on a public address cannot make discovery fetch
// anything from a private address, whether its challenge, its protected-resource metadata or a redirect
// points there, by a literal address or by a name that resolves to one.
func TestMCPPublicServerLeadsNowherePrivate(t *testing.T) {
	cases := map[string]func(t *testing.T, w *mcpWorld, p *privateAS) []string{
		"resource_metadata at a private address": func(t *testing.T, w *mcpWorld, p *privateAS) []string {
			u := p.url("127.0.0.1") + "/.well-known/oauth-protected-resource"
			w.challenge = `Bearer resource_metadata="` + u + `"`
			return []string{"MCP server " + w.srv.URL + "/mcp is on a public address (127.0.0.2)", "its 401 challenge names resource_metadata " + u + ", which is on 127.0.0.1, a private or reserved address"}
		},
		"authorization server at a private address": func(t *testing.T, w *mcpWorld, p *privateAS) []string {
			iss := p.url("127.0.0.1") + "/as"
			w.prm = func() map[string]any {
				return map[string]any{"resource": w.srv.URL + "/mcp", "authorization_servers": []string{iss}}
			}
			return []string{"its protected-resource metadata names authorization server " + iss + ", which is on 127.0.0.1", "set authorization_server to that issuer if you trust it"}
		},
		"authorization server named by a name that resolves to a private address": func(t *testing.T, w *mcpWorld, p *privateAS) []string {
			iss := p.url("localhost") + "/as"
			w.prm = func() map[string]any {
				return map[string]any{"resource": w.srv.URL + "/mcp", "authorization_servers": []string{iss}}
			}
			return []string{"authorization server " + iss + ", which is on localhost (", "a private or reserved address"}
		},
		"a redirect to a private address": func(t *testing.T, w *mcpWorld, p *privateAS) []string {
			inner := w.srv.Config.Handler
			w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/moved" {
					http.Redirect(rw, r, p.url("127.0.0.1")+"/.well-known/oauth-protected-resource", http.StatusFound)
					return
				}
				inner.ServeHTTP(rw, r)
			})
			w.challenge = `Bearer resource_metadata="` + w.srv.URL + `/moved"`
			w.prm = nil
			return []string{w.srv.URL + "/moved answered 302"}
		},
	}
	for name, point := range cases {
		t.Run(name, func(t *testing.T) {
			w := newMCPWorldAt(t, publicTestAddr.String())
			p := newPrivateAS(t, w.srv.URL+"/mcp", w.srv.URL+"/as")
			want := point(t, w, p)
			_, err := w.discover(t, w.configure(t, nil))
			wantRefused(t, err, p, want...)
		})
	}
}

// TestMCPPublicServerSendsNothingToPrivateEndpoints: endpoints a public server's authorization server
// names on a private address get no connection, so neither the client secret nor a registration reaches
// them; an authorization_server the user sets is trusted, private or not, with the endpoints it names.
func TestMCPPublicServerSendsNothingToPrivateEndpoints(t *testing.T) {
	const secret = "s3cret-0123456789"
	w := newMCPWorldAt(t, publicTestAddr.String())
	p := newPrivateAS(t, w.srv.URL+"/mcp", w.srv.URL+"/as")
	asm := w.asm
	w.asm = func() map[string]any {
		m := asm()
		m["token_endpoint"], m["registration_endpoint"] = p.url("127.0.0.1")+"/as/token", p.url("localhost")+"/register"
		return m
	}
	cc := map[string]any{"grant": grantClientCredentials, "client_id": "m2m", "client_secret": secret}
	_, err := w.configure(t, cc).Token(t.Context())
	wantRefused(t, err, p, "the metadata of its authorization server "+w.srv.URL+"/as names "+p.url("127.0.0.1")+"/as/token, which is on 127.0.0.1",
		"set authorization_server to "+w.srv.URL+"/as if you trust it")
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error quotes the client secret: %v", err)
	}
	_, err = w.configure(t, nil).Login(t.Context(), noUI{t})
	wantRefused(t, err, p, "names "+p.url("localhost")+"/register, which is on localhost (")

	for _, iss := range []string{w.srv.URL + "/as", p.url("127.0.0.1") + "/as"} {
		cc["authorization_server"] = iss
		tok, err := w.configure(t, cc).Token(t.Context())
		if err != nil || tok.Value != "from-private" {
			t.Fatalf("with authorization_server %s: %q %v; want the private token endpoint it names used", iss, tok.Value, err)
		}
	}
	if p.mu.Lock(); len(p.forms) != 2 || !strings.Contains(p.forms[0], "grant_type=client_credentials") {
		t.Errorf("token requests at the private server %q; want the two made once authorization_server was set", p.forms)
	}
	p.mu.Unlock()
}

// TestMCPStoredEndpointsKeepToPublic: a process that refreshes at the token endpoint a stored sign-in
// names, without discovering, holds it to the same rule: the refresh token does not go to a private
// address for a public server.
func TestMCPStoredEndpointsKeepToPublic(t *testing.T) {
	const refresh = "rt-0123456789abcdef"
	w := newMCPWorldAt(t, publicTestAddr.String())
	p := newPrivateAS(t, w.srv.URL+"/mcp", w.srv.URL+"/as")
	store := filepath.Join(t.TempDir(), "s.json")
	si := signIn{Version: storeVersion, ClientID: "dyn-1", Registered: registeredDynamic, Issuer: w.srv.URL + "/as", Endpoint: p.url("127.0.0.1") + "/as/token",
		RefreshToken: refresh, AccessToken: "old", Expiry: time.Now().Add(-time.Minute), Scopes: []string{"read"}}
	if err := os.WriteFile(store, mustJSON(t, si), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := w.configure(t, map[string]any{"store": store}).Token(t.Context())
	wantRefused(t, err, p, "names "+p.url("127.0.0.1")+"/as/token, which is on 127.0.0.1")
	if strings.Contains(err.Error(), refresh) {
		t.Errorf("the error quotes the refresh token: %v", err)
	}
	if len(w.hits) != 0 {
		t.Errorf("the server was asked %v; the stored endpoints are used without discovery", w.hits)
	}
}
