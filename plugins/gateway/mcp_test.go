package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// mcpWorld is a loopback MCP server's discovery documents, each replaceable by a test: the server's 401
// challenge, its protected-resource metadata, and its authorization server's metadata.
type mcpWorld struct {
	srv       *httptest.Server
	challenge string                    // the 401's WWW-Authenticate ("" for none)
	prm       func() map[string]any     // nil: the metadata URIs answer 404
	asm       func() map[string]any     // nil: the authorization server's metadata URIs answer 404
	hits      map[string]int            // requests per path
	onToken   func(http.ResponseWriter) // the token endpoint
}

func newMCPWorld(t *testing.T) *mcpWorld { return newMCPWorldAt(t, "127.0.0.1") }

// newMCPWorldAt is newMCPWorld with the server listening on the loopback address ip.
func newMCPWorldAt(t *testing.T, ip string) *mcpWorld {
	w := &mcpWorld{hits: map[string]int{}}
	w.srv = serveAt(t, ip, nil, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.hits[r.URL.Path]++
		writeJSON := func(doc map[string]any) {
			rw.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(rw).Encode(doc)
		}
		switch {
		case r.URL.Path == "/mcp":
			if w.challenge != "" {
				rw.Header().Set("WWW-Authenticate", w.challenge)
			}
			http.Error(rw, "no token", http.StatusUnauthorized)
		case strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") && w.prm != nil:
			writeJSON(w.prm())
		case r.URL.Path == "/.well-known/oauth-authorization-server/as" && w.asm != nil:
			writeJSON(w.asm())
		case r.URL.Path == "/as/token" && w.onToken != nil:
			w.onToken(rw)
		default:
			http.NotFound(rw, r)
		}
	}))
	w.prm = func() map[string]any {
		return map[string]any{"resource": w.srv.URL + "/mcp", "authorization_servers": []string{w.srv.URL + "/as"}, "scopes_supported": []string{"read", "write"}}
	}
	w.asm = func() map[string]any {
		return map[string]any{
			"issuer": w.srv.URL + "/as", "authorization_endpoint": w.srv.URL + "/as/authorize", "token_endpoint": w.srv.URL + "/as/token",
			"response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
		}
	}
	return w
}

// configure returns an mcp source configured for the world's server with the extra options.
func (w *mcpWorld) configure(t *testing.T, extra map[string]any) *source {
	t.Helper()
	s := NewMCP().(*source)
	opts := map[string]any{"upstream": w.srv.URL + "/mcp", "store": filepath.Join(t.TempDir(), "s.json")}
	for k, v := range extra {
		opts[k] = v
	}
	if extra["grant"] == grantClientCredentials {
		delete(opts, "store")
	}
	info, err := s.Configure(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != MCPName || info.Upstream != w.srv.URL+"/mcp" || len(info.AllowedHosts) != 0 {
		t.Fatalf("Info %+v: want plugin mcp, the server as upstream and no other host", info)
	}
	return s
}

// discover runs discovery for the world's server.
func (w *mcpWorld) discover(t *testing.T, s *source) (*metadata, error) {
	t.Helper()
	cfg, _, err := s.st.Get(t.Context(), Name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.endpoints.discover(t.Context(), cfg)
}

// TestMCPDiscovery: the challenge's resource_metadata is followed (else the path-inserted well-known URI
// is found), the authorization server's metadata read, and the challenge's scope preferred to
// scopes_supported.
func TestMCPDiscovery(t *testing.T) {
	w := newMCPWorld(t)
	w.challenge = `Bearer resource_metadata="` + w.srv.URL + `/.well-known/oauth-protected-resource/elsewhere", scope="read"`
	m, err := w.discover(t, w.configure(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if m.Token != w.srv.URL+"/as/token" || !slices.Equal(m.mcp.scopes, []string{"read"}) || w.hits["/.well-known/oauth-protected-resource/elsewhere"] != 1 {
		t.Fatalf("discovered %+v %+v, hits %v", m, m.mcp, w.hits)
	}
	w.challenge = ""
	m, err = w.discover(t, w.configure(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.mcp.scopes, []string{"read", "write"}) || w.hits["/.well-known/oauth-protected-resource/mcp"] != 1 {
		t.Fatalf("without a challenge: scopes %v, hits %v; want scopes_supported from the path-inserted URI", m.mcp.scopes, w.hits)
	}
}

// TestMCPDiscoveryFailuresNameTheURL: each way discovery can fail says which URL answered wrongly and
// what was expected.
func TestMCPDiscoveryFailuresNameTheURL(t *testing.T) {
	cases := map[string]struct {
		break_ func(w *mcpWorld)
		want   func(w *mcpWorld) []string
	}{
		"no resource metadata": {func(w *mcpWorld) { w.prm = nil }, func(w *mcpWorld) []string {
			return []string{w.srv.URL + "/mcp", w.srv.URL + "/.well-known/oauth-protected-resource/mcp answered 404", w.srv.URL + "/.well-known/oauth-protected-resource answered 404", "expected JSON naming resource " + w.srv.URL + "/mcp", "authorization_server"}
		}},
		"metadata for another resource": {func(w *mcpWorld) {
			w.prm = func() map[string]any { return map[string]any{"resource": "https://other.example/mcp"} }
		}, func(w *mcpWorld) []string {
			return []string{w.srv.URL + "/.well-known/oauth-protected-resource/mcp", `"https://other.example/mcp"`}
		}},
		"resource metadata over 1 MiB": {func(w *mcpWorld) {
			prm := w.prm
			w.prm = func() map[string]any { m := prm(); m["resource_documentation"] = strings.Repeat("x", 10<<20); return m }
		}, func(w *mcpWorld) []string {
			return []string{w.srv.URL + "/.well-known/oauth-protected-resource/mcp the JSON document ends early: it is cut short or larger than 1 MiB"}
		}},
		"authorization server metadata over 1 MiB": {func(w *mcpWorld) {
			asm := w.asm
			w.asm = func() map[string]any { m := asm(); m["service_documentation"] = strings.Repeat("x", 10<<20); return m }
		}, func(w *mcpWorld) []string {
			return []string{"authorization server " + w.srv.URL + "/as is not usable", "larger than 1 MiB"}
		}},
		"authorization server metadata naming another issuer": {func(w *mcpWorld) {
			asm := w.asm
			w.asm = func() map[string]any { m := asm(); m["issuer"] = "https://other.example/as"; return m }
		}, func(w *mcpWorld) []string {
			return []string{`"https://other.example/as"`, w.srv.URL + "/as", "authorization_server"}
		}},
		"no authorization server metadata": {func(w *mcpWorld) { w.asm = nil }, func(w *mcpWorld) []string {
			return []string{"authorization server " + w.srv.URL + "/as publishes no metadata", "authorization_server"}
		}},
		"no S256": {func(w *mcpWorld) {
			asm := w.asm
			w.asm = func() map[string]any { m := asm(); m["code_challenge_methods_supported"] = []string{"plain"}; return m }
		}, func(w *mcpWorld) []string {
			return []string{"authorization server " + w.srv.URL + "/as does not list S256 in code_challenge_methods_supported"}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := newMCPWorld(t)
			c.break_(w)
			_, err := w.discover(t, w.configure(t, nil))
			if !sdk.IsKind(err, sdk.KindBadConfig) {
				t.Fatalf("error %v; want a configuration error", err)
			}
			for _, want := range c.want(w) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestMCPDiscoveryRetriesAfterFailure: a failed discovery is not cached; the next token request discovers
// again and succeeds once the server publishes its metadata.
func TestMCPDiscoveryRetriesAfterFailure(t *testing.T) {
	w := newMCPWorld(t)
	prm := w.prm
	w.prm = nil
	w.onToken = func(rw http.ResponseWriter) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"access_token":"tok-1","token_type":"Bearer","expires_in":600,"scope":"read"}`))
	}
	s := w.configure(t, map[string]any{"grant": grantClientCredentials, "client_id": "m2m", "client_secret": "s3cret"})
	if _, err := s.Token(t.Context()); !sdk.IsKind(err, sdk.KindBadConfig) {
		t.Fatalf("token without metadata: %v", err)
	}
	w.prm = prm
	if tok, err := s.Token(t.Context()); err != nil || tok.Value != "tok-1" {
		t.Fatalf("token once the metadata is there: %v %v", tok.Value, err)
	}
}

// TestMCPStepUpClientCredentialsAsksForTheUnion: after a 403 insufficient_scope, the token request asks
// for the held scopes and the challenged ones, and names the server as resource.
func TestMCPStepUpClientCredentialsAsksForTheUnion(t *testing.T) {
	w := newMCPWorld(t)
	w.challenge = `Bearer scope="read"`
	var forms []string
	w.onToken = func(rw http.ResponseWriter) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"access_token":"tok-` + string(rune('a'+len(forms))) + `","expires_in":600}`))
	}
	inner := w.srv.Config.Handler
	w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/as/token" {
			_ = r.ParseForm()
			forms = append(forms, r.PostForm.Get("scope")+" | "+r.PostForm.Get("resource"))
		}
		inner.ServeHTTP(rw, r)
	})
	s := w.configure(t, map[string]any{"grant": grantClientCredentials, "client_id": "m2m", "client_secret": "s3cret"})
	first, err := s.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.RefreshRejected(t.Context(), first, sdk.Rejection{Status: 403, Challenge: `Bearer error="insufficient_scope", scope="write read"`})
	if err != nil || second.Value == first.Value {
		t.Fatalf("step-up: %v, same token %v", err, second.Value == first.Value)
	}
	res := w.srv.URL + "/mcp"
	if want := []string{"read | " + res, "read write | " + res}; !slices.Equal(forms, want) {
		t.Fatalf("token requests %q; want %q", forms, want)
	}
	if _, err := s.RefreshRejected(context.Background(), second, sdk.Rejection{Status: 401, Challenge: `Bearer error="invalid_token"`}); err != nil {
		t.Fatal(err)
	}
	if forms[2] != "read write | "+res {
		t.Errorf("a plain 401 after the step-up asked for %q; the stepped-up scopes are kept", forms[2])
	}
}

// TestMCPStepUpIsBounded: a server that names new scopes in every 403 cannot make the provider ask for an
// ever longer list: past maxStepUpScopes bytes the step-up fails naming the option scopes, no token request
// is sent, and the scopes asked for stay those of the last step-up allowed.
func TestMCPStepUpIsBounded(t *testing.T) {
	w := newMCPWorld(t)
	var forms []string
	w.onToken = func(rw http.ResponseWriter) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"access_token":"tok-` + strconv.Itoa(len(forms)) + `","expires_in":600}`))
	}
	inner := w.srv.Config.Handler
	w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/as/token" {
			_ = r.ParseForm()
			forms = append(forms, r.PostForm.Get("scope"))
		}
		inner.ServeHTTP(rw, r)
	})
	s := w.configure(t, map[string]any{"grant": grantClientCredentials, "client_id": "m2m", "client_secret": "s3cret", "scopes": []any{"read"}})
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	scopes := func(round int) string {
		var b strings.Builder
		for i := range 300 {
			fmt.Fprintf(&b, "r%d-s%03d ", round, i)
		}
		return strings.TrimSpace(b.String())
	}
	var last error
	for round := range 4 {
		next, err := s.RefreshRejected(t.Context(), tok, sdk.Rejection{Status: 403, Challenge: `Bearer error="insufficient_scope", scope="` + scopes(round) + `"`})
		if err != nil {
			last = err
			break
		}
		tok = next
	}
	if !sdk.IsKind(last, sdk.KindBadConfig) || !strings.Contains(last.Error(), "scopes") || !strings.Contains(last.Error(), w.srv.URL+"/mcp") {
		t.Fatalf("four step-ups of 300 new scopes each: %v; want a configuration error naming scopes and the server", last)
	}
	for _, f := range forms {
		if len(f) > maxStepUpScopes {
			t.Fatalf("a token request asked for %d bytes of scopes, more than %d", len(f), maxStepUpScopes)
		}
	}
	if _, err := s.RefreshRejected(t.Context(), tok, sdk.Rejection{Status: 401}); err != nil {
		t.Fatal(err)
	}
	if got := forms[len(forms)-1]; !strings.HasPrefix(got, "read r0-s000") || len(got) > maxStepUpScopes {
		t.Errorf("after the refused step-up a refresh asked for %d bytes starting %.20q; want the scopes of the last allowed step-up", len(got), got)
	}
}

// TestMCPOptions: options the mcp plugin refuses, each naming the option.
func TestMCPOptions(t *testing.T) {
	for opts, key := range map[string]string{
		`{}`: "upstream",
		`{"upstream":"http://tools.example.com/mcp"}`:                                     "upstream",
		`{"upstream":"https://t.example/mcp","grant":"device_code"}`:                      "grant",
		`{"upstream":"https://t.example/mcp","grant":"client_credentials"}`:               "client_secret",
		`{"upstream":"https://t.example/mcp","grant":"client_credentials","store":"x"}`:   "store",
		`{"upstream":"https://t.example/mcp","client_metadata_url":"http://c.example/m"}`: "client_metadata_url",
		`{"upstream":"https://t.example/mcp","token_url":"https://idp.example/token"}`:    "token_url",
	} {
		var raw map[string]any
		if err := json.Unmarshal([]byte(opts), &raw); err != nil {
			t.Fatal(err)
		}
		_, err := NewMCP().Configure(t.Context(), raw)
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != key {
			t.Errorf("options %s: error %v; want a configuration error naming %s", opts, err, key)
		}
	}
}

// TestCanonicalResource: the resource is the server's URL with scheme and host lower-cased and no
// fragment, query or trailing slash.
func TestCanonicalResource(t *testing.T) {
	for in, want := range map[string]string{
		"https://Tools.Example.COM/mcp/":  "https://tools.example.com/mcp",
		"HTTPS://tools.example.com/mcp#x": "https://tools.example.com/mcp",
		"https://tools.example.com":       "https://tools.example.com",
	} {
		if got := canonicalResource(in); got != want {
			t.Errorf("canonicalResource(%q) = %q, want %q", in, got, want)
		}
	}
}

// noUI is a login UI that must not be reached.
type noUI struct{ t *testing.T }

func (u noUI) Show(context.Context, sdk.Prompt) error {
	u.t.Error("the sign-in reached the browser")
	return nil
}

// TestMCPRegistrationFailureQuotesNothing: a registration endpoint's failed answer is described by its
// status or error code; its body, which may hold a client secret, is not quoted.
func TestMCPRegistrationFailureQuotesNothing(t *testing.T) {
	const secret = "reg-secret-0123456789"
	for name, answer := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"5xx":          {500, `{"client_secret":"` + secret + `"}`, "an answer that is not a registration"},
		"no client_id": {201, `{"client_secret":"` + secret + `","registration_access_token":"` + secret + `"}`, "an answer that is not a registration"},
		"oauth error":  {400, `{"error":"invalid_redirect_uri","error_description":"` + secret + `"}`, "400 invalid_redirect_uri"},
	} {
		t.Run(name, func(t *testing.T) {
			w := newMCPWorld(t)
			asm := w.asm
			w.asm = func() map[string]any { m := asm(); m["registration_endpoint"] = w.srv.URL + "/as/register"; return m }
			inner := w.srv.Config.Handler
			w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/as/register" {
					rw.Header().Set("Content-Type", "application/json")
					rw.WriteHeader(answer.status)
					_, _ = rw.Write([]byte(answer.body))
					return
				}
				inner.ServeHTTP(rw, r)
			})
			s := w.configure(t, nil)
			_, err := s.Login(t.Context(), noUI{t})
			if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), answer.want) || !strings.Contains(err.Error(), w.srv.URL+"/as/register") {
				t.Fatalf("registration failure: %v; want it to name the endpoint and %q, and quote nothing", err, answer.want)
			}
		})
	}
}

// promptUI records the sign-in's URL and message and ends the sign-in there.
type promptUI struct{ link, message string }

func (u *promptUI) Show(_ context.Context, p sdk.Prompt) error {
	u.link, u.message = p.URL, p.Message
	return errors.New("stop here")
}

// TestMCPClientMetadataDocument: without client_id, a configured client_metadata_url is the client ID when
// the authorization server accepts metadata documents; the authorization request names the resource and
// uses PKCE S256.
func TestMCPClientMetadataDocument(t *testing.T) {
	w := newMCPWorld(t)
	asm := w.asm
	w.asm = func() map[string]any { m := asm(); m["client_id_metadata_document_supported"] = true; return m }
	const doc = "https://agents.example.com/tokenhost/client.json"
	s := w.configure(t, map[string]any{"client_metadata_url": doc})
	ui := &promptUI{}
	if _, err := s.Login(t.Context(), ui); err == nil {
		t.Fatal("the sign-in went on after the UI failed")
	}
	u, err := url.Parse(ui.link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("client_id") != doc || q.Get("resource") != w.srv.URL+"/mcp" || q.Get("code_challenge_method") != "S256" || q.Get("scope") != "read write" {
		t.Fatalf("authorization request %v; want the document as client_id, the server as resource, S256 and the server's scopes", q)
	}
}

// TestMCPSignInPromptSaysWhere: the sign-in's prompt is true with and without --no-browser: the page must
// be opened on this machine, since the sign-in returns to a loopback redirect here, which it names.
func TestMCPSignInPromptSaysWhere(t *testing.T) {
	w := newMCPWorld(t)
	ui := &promptUI{}
	if _, err := w.configure(t, map[string]any{"client_id": "preregistered"}).Login(t.Context(), ui); err == nil {
		t.Fatal("the sign-in went on after the UI failed")
	}
	u, err := url.Parse(ui.link)
	if err != nil {
		t.Fatal(err)
	}
	redirect := u.Query().Get("redirect_uri")
	if !strings.Contains(ui.message, "on this machine") || !strings.Contains(ui.message, redirect) || redirect == "" || strings.Contains(ui.message, "by itself") {
		t.Fatalf("prompt %q; want it to say the browser must be on this machine and name the redirect %q, and not that the page opens by itself", ui.message, redirect)
	}
}

// TestMCPStepUpByRefresh: an authorization server that widens a grant on refresh gives a signed-in
// provider the challenged scopes without a new sign-in, and the stored sign-in keeps them.
func TestMCPStepUpByRefresh(t *testing.T) {
	w := newMCPWorld(t)
	var asked []string
	w.onToken = func(rw http.ResponseWriter) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"access_token":"wide","refresh_token":"rt-2","expires_in":600,"scope":"read write"}`))
	}
	inner := w.srv.Config.Handler
	w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/as/token" {
			_ = r.ParseForm()
			asked = append(asked, r.PostForm.Get("grant_type")+" "+r.PostForm.Get("scope")+" "+r.PostForm.Get("client_id")+" "+r.PostForm.Get("resource"))
		}
		inner.ServeHTTP(rw, r)
	})
	store := filepath.Join(t.TempDir(), "s.json")
	si := signIn{Version: storeVersion, ClientID: "dyn-1", Registered: registeredDynamic, Issuer: w.srv.URL + "/as", Endpoint: w.srv.URL + "/as/token",
		RefreshToken: "rt-1", AccessToken: "narrow", Expiry: time.Now().Add(time.Hour), Scopes: []string{"read"}}
	if err := os.WriteFile(store, mustJSON(t, si), 0o600); err != nil {
		t.Fatal(err)
	}
	s := w.configure(t, map[string]any{"store": store})
	tok, err := s.RefreshRejected(t.Context(), sdk.Token{Value: "narrow"}, sdk.Rejection{Status: 403, Challenge: `Bearer error="insufficient_scope", scope="write"`})
	if err != nil || tok.Value != "wide" {
		t.Fatalf("step-up by refresh: %q %v", tok.Value, err)
	}
	if want := []string{"refresh_token read write dyn-1 " + w.srv.URL + "/mcp"}; !slices.Equal(asked, want) {
		t.Errorf("token requests %q; want %q", asked, want)
	}
	if got := readStore(t, store); got.RefreshToken != "rt-2" || !slices.Equal(got.Scopes, []string{"read", "write"}) || got.ClientID != "dyn-1" {
		t.Errorf("stored sign-in after the step-up: refresh token rotated %v, scopes %v, client %q", got.RefreshToken == "rt-2", got.Scopes, got.ClientID)
	}
}
