package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// recipeRun is one recipe's run: its fakes, files and environment.
type recipeRun struct {
	t     *testing.T
	dir   string // the configuration and the files standing in for recipePaths
	home  string // HOME of every tokenhost process
	idp   *recipeIdP
	up    *recipeUpstream
	redis *redistest.Server
	mcp   *mcpRecipeRun // the MCP server and its authorization server, for the docs/mcp.md recipes

	hosts       map[string]string // recipeHosts prefixes sent elsewhere than their role's fake
	files       map[string]string // recipePaths entry → the content of the file standing in for it
	env         []string          // variables the recipe's page tells the user to set
	mech        []string          // the test's plumbing: HOME, XDG_*, upstream overrides, PATH, CA file
	valid       func(credential string) bool
	wantHeaders map[string]string // further headers the upstream must see
}

// recipeCase says how to run one recipe: setup fills the run (fakes' expectations, files, environment);
// before runs the steps the page has the user take first; header and scheme say where the credential goes
// when not in Authorization: Bearer.
type recipeCase struct {
	setup          func(r *recipeRun)
	before         func(r *recipeRun, cfg string, env []string)
	header, scheme string
	// serve, when set, replaces the request for /models through `tokenhost serve`: it is handed serve's
	// URL of the provider and checks what reaches the upstream.
	serve func(r *recipeRun, providerURL string)
	// shell names commands of the docs' sh blocks run after the recipe, with the configuration as
	// TOKENHOST_CONFIG: "<file>: <start of the command>"; the whole command (continuation lines included)
	// runs as written, hosts replaced as in the recipe.
	shell []string
}

func newRecipeRun(t *testing.T) *recipeRun {
	r := &recipeRun{t: t, dir: t.TempDir(), home: t.TempDir(), hosts: map[string]string{}, files: map[string]string{}}
	r.idp, r.up = newRecipeIdP(t), newRecipeUpstream(t)
	r.valid = r.idp.Valid
	r.mech = []string{"HOME=" + r.home, "XDG_CONFIG_HOME=" + filepath.Join(r.home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(r.home, ".cache"), "XDG_STATE_HOME=" + filepath.Join(r.home, ".local", "state")}
	return r
}

// role returns the URL of the fake that plays role.
func (r *recipeRun) role(role string) string {
	switch role {
	case "upstream":
		return r.up.URL()
	case "idp":
		return r.idp.URL()
	case "redis":
		if r.redis == nil {
			return "redis://redis-not-started-by-this-case.internal:1"
		}
		return r.redis.URL()
	case "mcp", "documents":
		return "http://" + role + "-not-started-by-this-case.internal:1"
	}
	r.t.Fatalf("no fake plays %q", role)
	return ""
}

// secretEnv sets the variable name to a fresh secret and returns it.
func (r *recipeRun) secretEnv(name string) string {
	v := newSecret(r.t, strings.ToLower(name))
	r.env = append(r.env, name+"="+v)
	return v
}

// is makes the one credential v the valid one.
func (r *recipeRun) is(v string) { r.valid = func(s string) bool { return s == v } }

const (
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccess        = "urn:ietf:params:oauth:token-type:access_token"
)

// recipeCases runs each recipe, by the id docRecipes gives it.
var recipeCases = map[string]recipeCase{
	"README.md › Use it": {
		setup: func(r *recipeRun) {
			r.idp.want = idpWant{grant: grantClientCredentials, clientID: "my-agent", secret: r.secretEnv("CORP_CLIENT_SECRET"),
				form: map[string]string{"scope": "llm.invoke"}}
		},
		shell: []string{
			"README.md: tokenhost token corp --json", "README.md: tokenhost check", "README.md: tokenhost config show",
			"README.md: tokenhost plugins ", "README.md: tokenhost token corp --header | curl",
			"docs/scripts.md: tokenhost token corp --fresh", "docs/scripts.md: tokenhost token corp --header | curl",
		},
	},
	"docs/providers/gateway.md › Okta service app with private_key_jwt": {setup: func(r *recipeRun) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			r.t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			r.t.Fatal(err)
		}
		r.files["/etc/tokenhost/okta-service-app.pem"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		r.idp.want = idpWant{grant: grantClientCredentials, clientID: "0oa1b2c3d4e5f6g7h8i9", key: &key.PublicKey,
			kid: "tokenhost-2026", form: map[string]string{"scope": "llm.invoke"}}
	}},
	"docs/providers/gateway.md › Keycloak token exchange": {setup: func(r *recipeRun) {
		secret := r.secretEnv("KEYCLOAK_CLIENT_SECRET")
		subject := r.secretEnv("UPSTREAM_ACCESS_TOKEN")
		r.idp.want = idpWant{grant: grantTokenExchange, clientID: "tokenhost", secret: secret, form: map[string]string{
			"subject_token": subject, "subject_token_type": tokenTypeAccess,
			"requested_token_type": tokenTypeAccess, "audience": "llm-gateway"}}
	}},
	"docs/providers/gateway.md › A Kubernetes workload token exchanged for a gateway token": {setup: projectedTokenExchange},
	"docs/deploy.md › Kubernetes sidecar with a workload identity":                          {setup: projectedTokenExchange},
	"docs/providers/gateway.md › GitHub Actions OIDC": {setup: func(r *recipeRun) {
		a := newActionsOIDC(r.t)
		r.env = append(r.env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN="+a.requestToken, "ACTIONS_ID_TOKEN_REQUEST_URL="+a.requestURL())
		r.idp.want = idpWant{grant: grantTokenExchange, form: map[string]string{
			"subject_token": a.idToken, "subject_token_type": tokenTypeJWT, "audience": r.up.URL()}}
	}},
	"docs/providers/gateway.md › A company CLI via exec": {setup: func(r *recipeRun) {
		// corp-cli on PATH prints a token only when called with the recipe's arguments.
		tok := newSecret(r.t, "corp-cli-token")
		bin := filepath.Join(r.dir, "bin")
		script := "#!/bin/sh\n[ \"$*\" = \"auth print-token --format json\" ] || { echo \"corp-cli: unexpected arguments: $*\" >&2; exit 2; }\n" +
			"printf '{\"access_token\":\"%s\",\"expires_in\":600}\\n' '" + tok + "'\n"
		if err := os.MkdirAll(bin, 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, "corp-cli"), []byte(script), 0o755); err != nil {
			r.t.Fatal(err)
		}
		r.mech = append(r.mech, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		r.is(tok)
	}},
	"docs/providers/gateway.md › An API key plus a tenant header": {header: "api-key", scheme: "", setup: func(r *recipeRun) {
		r.is(r.secretEnv("CORP_LLM_API_KEY"))
		r.wantHeaders = map[string]string{"x-tenant-id": "team-42"}
	}},
	"docs/providers/gateway.md › A person signing in with device code": {
		setup: func(r *recipeRun) {
			dev := fakes.NewDeviceServer("tokenhost-cli")
			r.t.Cleanup(dev.Close)
			r.hosts["https://login.corp.example"] = dev.URL()
			r.valid = dev.Valid
		},
		before: func(r *recipeRun, cfg string, env []string) {
			if login := tokenhost(r.t, cfg, env, "login", "corp", "--no-browser"); login.code != 0 || !strings.Contains(login.stdout, "Signed in") {
				r.t.Fatalf("tokenhost login corp, as the recipe says to run first:\n%s", login)
			}
		},
	},
	"docs/providers/gateway.md › A tenant header on the token endpoint": {setup: func(r *recipeRun) {
		secret := r.secretEnv("CORP_CLIENT_SECRET")
		gw := r.secretEnv("CORP_IDP_GATEWAY_SECRET")
		r.idp.want = idpWant{grant: grantClientCredentials, clientID: "tokenhost-ci", secret: secret,
			form: map[string]string{"scope": "llm.invoke"}, headers: map[string]string{"X-Tenant": "acme", "X-Gateway-Secret": gw}}
	}},
	"docs/providers/codex.md › codex — ChatGPT sign-in from the Codex CLI": {setup: func(r *recipeRun) {
		codexSignIn(r)
	}},
	"docs/providers/codex.md › Fleet mode": {setup: func(r *recipeRun) {
		r.redis = redistest.Start(r.t)
		codexSignIn(r)
		// fleet.md: `tokenhost store keygen`, then export TOKENHOST_STORE_KEY on every host.
		key := tokenhost(r.t, "", nil, "store", "keygen")
		if key.code != 0 || !oneLine(key.stdout) {
			r.t.Fatalf("tokenhost store keygen:\n%s", key)
		}
		r.env = append(r.env, "TOKENHOST_STORE_KEY="+strings.TrimSpace(key.stdout))
	}},
	"docs/providers/gemini.md › gemini — Google Cloud Code Assist with the Gemini CLI's sign-in, or Application Default Credentials": {setup: func(r *recipeRun) {
		tok := newSecret(r.t, "ya29.gemini-access")
		creds, _ := json.Marshal(map[string]any{"access_token": tok, "refresh_token": "1//unused", "token_type": "Bearer",
			"scope": "https://www.googleapis.com/auth/cloud-platform", "expiry_date": time.Now().Add(time.Hour).UnixMilli()})
		writeHomeFile(r, ".gemini/oauth_creds.json", creds)
		r.mech = append(r.mech, "TOKENHOST_PROVIDERS__GEMINI__UPSTREAM="+r.up.URL())
		r.is(tok)
	}},
	"docs/providers/gemini.md › Vertex AI from an OpenAI SDK": {setup: func(r *recipeRun) {
		// source: adc, from `gcloud auth application-default login`'s file in its default place; its token_uri
		// is a fake Google token endpoint, the upstream the recipe's openapi path on the recording fake.
		const clientID = "adc-client.apps.googleusercontent.com"
		secret := newSecret(r.t, "adc-secret")
		idp := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{ClientID: clientID, ClientSecret: secret})
		r.t.Cleanup(idp.Close)
		const refresh = "1//adc-refresh-recipe-0123456789"
		idp.AddRefreshToken(refresh)
		adc, _ := json.Marshal(map[string]any{"type": "authorized_user", "client_id": clientID, "client_secret": secret,
			"refresh_token": refresh, "token_uri": idp.TokenURL()})
		writeHomeFile(r, ".config/gcloud/application_default_credentials.json", adc)
		r.mech = append(r.mech, "TOKENHOST_PROVIDERS__VERTEX__UPSTREAM="+r.up.URL()+
			"/v1/projects/my-project/locations/us-central1/endpoints/openapi")
		r.valid = idp.Valid
	}},
	"docs/providers/azure.md › Azure OpenAI with Microsoft Entra ID (`plugin: azure`)": {setup: func(r *recipeRun) {
		// credential: default, its first link: the environment's client secret, against a fake Entra ID
		// (AZURE_AUTHORITY_HOST, trusted through SSL_CERT_FILE).
		clientID := "3f2c1b0a-1111-4222-8333-944455556666"
		secret := newSecret(r.t, "entra-secret")
		entra := fakes.NewEntra(fakes.EntraConfig{ClientID: clientID, ClientSecret: secret})
		r.t.Cleanup(entra.Close)
		ca, err := entra.CAFile(r.dir)
		if err != nil {
			r.t.Fatal(err)
		}
		r.env = append(r.env, "AZURE_TENANT_ID="+entra.TenantID(), "AZURE_CLIENT_ID="+clientID, "AZURE_CLIENT_SECRET="+secret)
		r.mech = append(r.mech, "AZURE_AUTHORITY_HOST="+entra.AuthorityHost(), "SSL_CERT_FILE="+ca,
			"TOKENHOST_PROVIDERS__AZURE__UPSTREAM="+r.up.URL()+"/openai/v1")
		r.valid = entra.Valid
	}, shell: []string{"docs/providers/azure.md: tokenhost check"}},
	"docs/mcp.md › MCP servers":        mcpRecipeCase(mcpRecipe{login: true, scope: mcpRead, registered: 1}),
	"docs/mcp.md › Kinds of server":    mcpRecipeCase(mcpRecipe{login: true, scope: mcpRead + " offline_access", clientID: "tokenhost-desktop"}),
	"docs/mcp.md › Kinds of server #2": mcpRecipeCase(mcpRecipe{login: true, scope: mcpRead, documents: true}),
	"docs/mcp.md › Kinds of server #3": mcpRecipeCase(mcpRecipe{clientID: "nightly-agent"}),
}

// projectedTokenExchange sets up the Kubernetes recipes: a projected service-account token file exchanged
// at the token endpoint for a token whose audience is the gateway.
func projectedTokenExchange(r *recipeRun) {
	sa := newSecret(r.t, "k8s-projected-sa-token")
	r.files["/var/run/secrets/tokens/corp-sts"] = sa
	r.idp.want = idpWant{grant: grantTokenExchange, form: map[string]string{
		"subject_token": sa, "subject_token_type": tokenTypeJWT, "audience": r.up.URL(), "scope": "llm.invoke"}}
}

// codexSignIn writes ~/.codex/auth.json as `codex login` leaves it, with an access token valid for an
// hour, and points the codex provider's default upstream at the fake.
func codexSignIn(r *recipeRun) {
	account := "acct-4f0c2a"
	access := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(time.Hour).Unix(),
		"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": account}})
	if err := os.MkdirAll(filepath.Join(r.home, ".codex"), 0o700); err != nil {
		r.t.Fatal(err)
	}
	if err := fakes.WriteCodexAuth(filepath.Join(r.home, ".codex", "auth.json"), access, "rt-unused", "", account, nil); err != nil {
		r.t.Fatal(err)
	}
	r.mech = append(r.mech, "TOKENHOST_PROVIDERS__CODEX__UPSTREAM="+r.up.URL()+"/backend-api/codex")
	r.is(access)
	r.wantHeaders = map[string]string{"ChatGPT-Account-ID": account}
}

// writeHomeFile writes data (mode 0600) to rel under the run's HOME.
func writeHomeFile(r *recipeRun, rel string, data []byte) {
	p := filepath.Join(r.home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		r.t.Fatal(err)
	}
}
