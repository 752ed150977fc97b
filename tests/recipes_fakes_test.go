package tests

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// idpWant is what a recipe's token requests must carry for the recipe IdP to issue a token; empty fields
// are not checked.
type idpWant struct {
	grant    string            // grant_type
	clientID string            // from Basic auth, the form, or a client assertion's sub
	secret   string            // the client secret (Basic or form)
	form     map[string]string // further form fields and their exact values
	headers  map[string]string // request headers and their exact values
	key      *ecdsa.PublicKey  // private_key_jwt: the key the client assertion must be signed with
	kid      string            // private_key_jwt: the assertion's kid
}

// recipeIdP is a loopback identity provider for the docs' recipes: discovery for any issuer path under it
// (OIDC and RFC 8414 forms), and a token endpoint at any path ending in /token that issues a token only when
// the request carries what want says. It remembers every token it issued.
type recipeIdP struct {
	srv  *httptest.Server
	want idpWant

	mu      sync.Mutex
	issued  map[string]bool
	refused []string // why requests were refused, for failure messages (never a secret)
}

func newRecipeIdP(t *testing.T) *recipeIdP {
	t.Helper()
	p := &recipeIdP{issued: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.handle))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the IdP's base URL, http://127.0.0.1:port.
func (p *recipeIdP) URL() string { return p.srv.URL }

// Valid reports whether the IdP issued token.
func (p *recipeIdP) Valid(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issued[token]
}

// Refused lists why token requests were refused.
func (p *recipeIdP) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}

func (p *recipeIdP) handle(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/.well-known/openid-configuration"):
		p.metadata(w, strings.TrimSuffix(path, "/.well-known/openid-configuration"))
	case strings.HasPrefix(path, "/.well-known/oauth-authorization-server"):
		p.metadata(w, strings.TrimPrefix(path, "/.well-known/oauth-authorization-server"))
	case strings.HasSuffix(path, "/token") && r.Method == http.MethodPost:
		p.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

// metadata answers discovery for the issuer at issuerPath, with its token endpoint under it.
func (p *recipeIdP) metadata(w http.ResponseWriter, issuerPath string) {
	issuer := p.srv.URL + issuerPath
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        issuer + "/v1/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
	})
}

func (p *recipeIdP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.refuse(w, "invalid_request", "the body is not a form")
		return
	}
	if why := p.check(r); why != "" {
		p.refuse(w, "invalid_grant", why)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "recipe-idp-" + hex.EncodeToString(b[:])
	p.mu.Lock()
	p.issued[tok] = true
	p.mu.Unlock()
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600}
	if r.PostForm.Get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange" {
		resp["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (p *recipeIdP) refuse(w http.ResponseWriter, code, why string) {
	p.mu.Lock()
	p.refused = append(p.refused, why)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": why})
}

// check returns why the request does not carry what p.want says, or "".
func (p *recipeIdP) check(r *http.Request) string {
	want, form := p.want, r.PostForm
	if want.grant != "" && form.Get("grant_type") != want.grant {
		return fmt.Sprintf("grant_type %q, want %q", form.Get("grant_type"), want.grant)
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if u, s, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(s)
	}
	if want.key != nil {
		sub, why := checkAssertion(form, want.key, want.kid, "http://"+r.Host+r.URL.Path)
		if why != "" {
			return why
		}
		id = sub
	}
	if want.clientID != "" && id != want.clientID {
		return fmt.Sprintf("client_id %q, want %q", id, want.clientID)
	}
	if want.secret != "" && secret != want.secret {
		return "the client secret is not the one the recipe's variable holds"
	}
	for k, v := range want.form {
		if form.Get(k) != v {
			return fmt.Sprintf("form field %s is %q, want %q", k, redact(form.Get(k)), redact(v))
		}
	}
	for k, v := range want.headers {
		if r.Header.Get(k) != v {
			return fmt.Sprintf("header %s does not hold the recipe's value", k)
		}
	}
	return ""
}

// checkAssertion verifies a private_key_jwt client assertion: signed with key, the kid given, iss = sub,
// and the token endpoint among its audiences. It returns the assertion's subject, or why it is refused.
func checkAssertion(form url.Values, key *ecdsa.PublicKey, kid, endpoint string) (string, string) {
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "", "no private_key_jwt client assertion"
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return "", "the client assertion is not a JWT: " + err.Error()
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID != kid {
		return "", "the client assertion does not name the recipe's kid"
	}
	var c jwt.Claims
	if err := tok.Claims(key, &c); err != nil {
		return "", "the client assertion's signature does not verify with the recipe's key"
	}
	if c.Issuer != c.Subject || !c.Audience.Contains(endpoint) {
		return "", fmt.Sprintf("the client assertion has iss %q, sub %q, aud %q; want iss = sub and aud %s", c.Issuer, c.Subject, c.Audience, endpoint)
	}
	return c.Subject, ""
}

// recipeUpstream is a loopback API that answers every request 200 and remembers the headers of each.
type recipeUpstream struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []http.Header
	path []string
}

func newRecipeUpstream(t *testing.T) *recipeUpstream {
	t.Helper()
	u := &recipeUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		u.path = append(u.path, r.URL.Path)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// URL is the upstream's base URL, http://127.0.0.1:port.
func (u *recipeUpstream) URL() string { return u.srv.URL }

// last returns the headers and path of the last request, or nil.
func (u *recipeUpstream) last() (http.Header, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return nil, ""
	}
	return u.seen[len(u.seen)-1], u.path[len(u.path)-1]
}

// seenAll returns the headers of every request so far.
func (u *recipeUpstream) seenAll() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen...)
}

// actionsOIDC is a loopback stand-in for GitHub Actions' OIDC token service: a GET with the request
// token as bearer and an audience gets {"value": <token>}.
type actionsOIDC struct {
	srv          *httptest.Server
	requestToken string
	idToken      string
}

func newActionsOIDC(t *testing.T) *actionsOIDC {
	t.Helper()
	a := &actionsOIDC{requestToken: newSecret(t, "actions-request"), idToken: newSecret(t, "actions-id-token")}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+a.requestToken || r.URL.Query().Get("audience") != "corp-sts" {
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"count": "1", "value": a.idToken})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// requestURL is what ACTIONS_ID_TOKEN_REQUEST_URL holds in a job: a URL with a query, to which the
// recipe appends &audience=.
func (a *actionsOIDC) requestURL() string {
	return a.srv.URL + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0"
}
