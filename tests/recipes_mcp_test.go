package tests

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// mcpRecipe says how a docs/mcp.md recipe signs in and what the authorization server must see.
type mcpRecipe struct {
	login      bool   // the page has the user run `tokenhost login tools` first
	scope      string // the scope the sign-in's authorization request must name
	clientID   string // the client every access token must be issued to ("" when registered dynamically)
	documents  bool   // the recipe's client is a client ID metadata document served over https
	registered int    // the clients the authorization server must have registered dynamically
}

// authorizationScope returns the scope parameter of the authorization link in the output of
// `tokenhost login`.
func authorizationScope(out string) string {
	for _, f := range strings.Fields(out) {
		if u, err := url.Parse(f); err == nil && strings.HasSuffix(u.Path, "/auth") {
			return u.Query().Get("scope")
		}
	}
	return ""
}

// mcpDocumentPath is the path of the client ID metadata document docs/mcp.md names.
const mcpDocumentPath = "/tokenhost/client.json"

// mcpRecipeRun is one docs/mcp.md recipe's servers.
type mcpRecipeRun struct {
	srv      *mcpServer
	as       *mcpAS
	clientID string       // the client the recipe's tokens must be issued to, "" for any
	fetched  atomic.Int32 // requests for the client's metadata document
}

// issuedToClient reports whether the access token tok is issued to the recipe's client.
func (m *mcpRecipeRun) issuedToClient(t *testing.T, tok string) bool {
	return m.clientID == "" || jwtClaims(t, tok)["client_id"] == m.clientID
}

// mcpRecipeCase runs a docs/mcp.md recipe against the Go MCP SDK's server (startMCPServer) and panva's
// oidc-provider (testdata/mcpas/as.mjs), which knows the page's clients tokenhost-desktop and
// nightly-agent. The recipe's https://tools.example.com/mcp becomes the server's loopback URL and
// https://agents.example.com an https server holding the client's metadata document, trusted by the
// authorization server only. A credential is valid when the server would accept it (signed by the
// authorization server, the server its audience, unexpired) and it is issued to the recipe's client.
// Through serve, an MCP client calls a tool, and every token the server accepted is such a credential.
func mcpRecipeCase(k mcpRecipe) recipeCase {
	return recipeCase{
		setup: func(r *recipeRun) {
			needBinaries(r.t)
			m := &mcpRecipeRun{srv: startMCPServer(r.t), clientID: k.clientID}
			r.mcp = m
			secret := newSecret(r.t, "unused-machine-secret")
			if !k.login {
				secret = r.secretEnv("TOOLS_CLIENT_SECRET")
			}
			var asEnv []string
			if k.documents {
				docs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if req.URL.Path != mcpDocumentPath {
						http.NotFound(w, req)
						return
					}
					m.fetched.Add(1)
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(map[string]any{
						"client_id": "https://" + req.Host + mcpDocumentPath, "client_name": "tokenhost",
						"application_type": "native", "token_endpoint_auth_method": "none",
						"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
						"redirect_uris": []string{"http://127.0.0.1/callback"},
					})
				}))
				r.t.Cleanup(docs.Close)
				ca := writeFile(r.t, r.dir, "documents-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: docs.Certificate().Raw})))
				asEnv = append(asEnv, "AS_CLIENT_DOCUMENTS=1", "NODE_EXTRA_CA_CERTS="+ca)
				r.hosts["https://agents.example.com"] = docs.URL
				m.clientID = docs.URL + mcpDocumentPath
			}
			m.as = startMCPAS(r.t, m.srv.URL, secret, 600, asEnv...)
			m.srv.setIssuer(m.as.issuer)
			r.hosts["https://tools.example.com/mcp"] = m.srv.URL
			r.valid = func(tok string) bool {
				_, err := m.srv.check(tok)
				return err == nil && m.issuedToClient(r.t, tok)
			}
		},
		before: func(r *recipeRun, cfg string, env []string) {
			if !k.login {
				return
			}
			res, asked := mcpLogin(r.t, cfg, "tools", env...)
			if res.code != 0 {
				r.t.Fatalf("tokenhost login tools, as the page says to run first:\n%s", res)
			}
			if got := authorizationScope(res.stdout); got != k.scope {
				r.t.Errorf("the sign-in's authorization request names the scope %q; want %q", got, k.scope)
			}
			// oidc-provider drops offline_access from a request without prompt=consent, as OpenID Connect
			// says, and issues refresh tokens to every client allowed the grant.
			if !slices.Equal(asked, []string{mcpRead}) {
				r.t.Errorf("the authorization server asked the user for the scopes %q; want %q", asked, mcpRead)
			}
		},
		serve: func(r *recipeRun, providerURL string) {
			m := r.mcp
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if got, err := callTool(ctx, http.DefaultClient, providerURL, "echo", "recipe"); err != nil || got != "echo: recipe" {
				r.t.Fatalf("a tool call through serve at %s: %q, %v", providerURL, got, err)
			}
			accepted := 0
			m.srv.seen.Range(func(tok, _ any) bool {
				accepted++
				if !m.issuedToClient(r.t, tok.(string)) {
					r.t.Errorf("the server was sent a token issued to %v; want %s", jwtClaims(r.t, tok.(string))["client_id"], m.clientID)
				}
				return true
			})
			if accepted == 0 {
				r.t.Errorf("the server accepted no token, yet answered the tool call")
			}
			if st := m.as.stats(r.t); st.Registered != k.registered || st.Reused != 0 {
				r.t.Errorf("authorization server counts %+v; want %d clients registered dynamically and no refresh token reused", st, k.registered)
			}
			if k.documents && m.fetched.Load() == 0 {
				r.t.Errorf("the authorization server never fetched the client's metadata document")
			}
		},
	}
}
