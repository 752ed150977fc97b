package fakes

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultEntraTenant is the tenant an Entra fake knows when EntraConfig.TenantID is empty.
const DefaultEntraTenant = "7a1c0e3d-52b4-4f6e-9d2a-0b8c1e4f6a21"

// DefaultEntraExpiresIn is the lifetime of the tokens an Entra fake issues when EntraConfig.ExpiresIn is
// zero; Entra ID answers expires_in 3599 for a one-hour token.
const DefaultEntraExpiresIn = 3599 * time.Second

// ClientAssertionType is the client_assertion_type of a JWT client assertion (RFC 7523).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ManagedIdentityPath is the path of an Entra fake's App Service style managed identity endpoint.
const ManagedIdentityPath = "/msi/token"

// ManagedIdentityAPIVersion is the api-version an App Service managed identity endpoint requires.
const ManagedIdentityAPIVersion = "2019-08-01"

// EntraConfig describes the tenant and the one application an Entra fake knows.
type EntraConfig struct {
	// TenantID is the tenant (default DefaultEntraTenant); requests for any other tenant fail with AADSTS90002.
	TenantID string
	// ClientID is the registered application's (and the managed identity's) client ID.
	ClientID string
	// ClientSecret is the application's secret; empty refuses every secret.
	ClientSecret string
	// ExpiresIn is the lifetime of issued tokens (default DefaultEntraExpiresIn), at least one second.
	ExpiresIn time.Duration
	// RefreshIn, when positive, is sent as refresh_in (whole seconds, at least 1) with client credential tokens.
	RefreshIn time.Duration
	// IdentityHeader is the value the managed identity endpoint requires in X-IDENTITY-HEADER (default random).
	IdentityHeader string
}

// Entra is a loopback fake of Microsoft Entra ID: an HTTPS server, with a certificate from a CA of its own,
// serving the OpenID metadata and the v2.0 token endpoint of one tenant (client credentials with a client
// secret or a JWT client assertion), plus a plain-http App Service style managed identity endpoint, as
// azidentity reads it from IDENTITY_ENDPOINT and IDENTITY_HEADER.
type Entra struct {
	accessTokens
	srv *httptest.Server
	mi  *httptest.Server
	ca  *entraCA
	cfg EntraConfig

	expiresIn     atomic.Int64 // time.Duration
	refreshIn     atomic.Int64 // time.Duration
	down          atomic.Bool
	secretExpired atomic.Bool
	miCaching     atomic.Bool
	issued        atomic.Int64
	requests      atomic.Int64
	miRequests    atomic.Int64

	mu         sync.Mutex
	lastForm   url.Values
	lastAuth   string
	assertions []string
	log        []string
	miQuery    url.Values
	miHeader   bool
	miCached   string // the token the managed identity endpoint serves while caching
}

// NewEntra starts the fake on 127.0.0.1. It panics if it cannot, as httptest does.
func NewEntra(cfg EntraConfig) *Entra {
	if cfg.TenantID == "" {
		cfg.TenantID = DefaultEntraTenant
	}
	if cfg.IdentityHeader == "" {
		cfg.IdentityHeader = newOpaqueToken()[:22]
	}
	ca, err := newEntraCA("entra")
	if err != nil {
		panic("fakes: creating the Entra test CA: " + err.Error())
	}
	e := &Entra{cfg: cfg, ca: ca}
	e.SetExpiresIn(cfg.ExpiresIn)
	e.SetRefreshIn(cfg.RefreshIn)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.handleMetadata)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", e.handleToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		entraError(w, http.StatusNotFound, "invalid_request", 90012, "The requested path does not exist on this fake: "+r.URL.Path)
	})
	e.srv = httptest.NewUnstartedServer(e.logged(mux))
	e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12}
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that do not trust the CA are expected
	e.srv.StartTLS()

	mimux := http.NewServeMux()
	mimux.HandleFunc(ManagedIdentityPath, e.handleManagedIdentity)
	e.mi = httptest.NewServer(e.logged(mimux))
	return e
}

// Close shuts both servers down.
func (e *Entra) Close() {
	e.srv.Close()
	e.mi.Close()
}

// AuthorityHost returns the authority host to configure, e.g. https://127.0.0.1:port.
func (e *Entra) AuthorityHost() string { return e.srv.URL }

// TenantID returns the tenant the fake knows.
func (e *Entra) TenantID() string { return e.cfg.TenantID }

// TokenURL returns the tenant's token endpoint.
func (e *Entra) TokenURL() string { return e.srv.URL + "/" + e.cfg.TenantID + "/oauth2/v2.0/token" }

// ManagedIdentityEndpoint returns the value for IDENTITY_ENDPOINT (a plain-http loopback URL, as on App Service).
func (e *Entra) ManagedIdentityEndpoint() string { return e.mi.URL + ManagedIdentityPath }

// IdentityHeader returns the value for IDENTITY_HEADER.
func (e *Entra) IdentityHeader() string { return e.cfg.IdentityHeader }

// CAPEM returns the PEM certificate of the CA that signed the server's certificate.
func (e *Entra) CAPEM() []byte { return append([]byte(nil), e.ca.caPEM...) }

// CAFile writes the CA certificate to dir/entra-ca.pem and returns the path, for a ca_file option.
func (e *Entra) CAFile(dir string) (string, error) {
	p := filepath.Join(dir, "entra-ca.pem")
	if err := os.WriteFile(p, e.ca.caPEM, 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// Issued returns how many access tokens the fake has issued (token endpoint and managed identity).
func (e *Entra) Issued() int64 { return e.issued.Load() }

// Requests returns how many requests reached the token endpoint, failures included.
func (e *Entra) Requests() int64 { return e.requests.Load() }

// ManagedIdentityRequests returns how many requests reached the managed identity endpoint.
func (e *Entra) ManagedIdentityRequests() int64 { return e.miRequests.Load() }

// Log returns "METHOD /path" for every request either server received, in order.
func (e *Entra) Log() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// LastForm returns the form of the last token request with client_secret and client_assertion removed.
func (e *Entra) LastForm() url.Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(url.Values, len(e.lastForm))
	for k, v := range e.lastForm {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// LastClientAuth returns how the last token request authenticated the client: "client_secret",
// "client_assertion", or "" (neither).
func (e *Entra) LastClientAuth() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastAuth
}

// Assertions returns every client assertion the token endpoint received, in order.
func (e *Entra) Assertions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.assertions...)
}

// LastManagedIdentityRequest returns the query of the last managed identity request and whether its
// X-IDENTITY-HEADER was right.
func (e *Entra) LastManagedIdentityRequest() (url.Values, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(url.Values, len(e.miQuery))
	for k, v := range e.miQuery {
		out[k] = append([]string(nil), v...)
	}
	return out, e.miHeader
}

// SetExpiresIn changes the lifetime of tokens issued from now on; d <= 0 restores DefaultEntraExpiresIn.
func (e *Entra) SetExpiresIn(d time.Duration) {
	if d <= 0 {
		d = DefaultEntraExpiresIn
	}
	e.expiresIn.Store(int64(d))
}

// SetRefreshIn makes client credential token responses carry refresh_in (whole seconds, at least 1); d <= 0
// omits it.
func (e *Entra) SetRefreshIn(d time.Duration) { e.refreshIn.Store(int64(max(d, 0))) }

// SetDown makes every endpoint answer 503 (an Entra ID outage) while down is true.
func (e *Entra) SetDown(down bool) { e.down.Store(down) }

// SetSecretExpired makes the token endpoint answer AADSTS7000222 (the client secret has expired) for the
// right secret while expired is true.
func (e *Entra) SetSecretExpired(expired bool) { e.secretExpired.Store(expired) }

// SetManagedIdentityCaching makes the managed identity endpoint serve the same token until it expires, as
// App Service's does, while caching is true.
func (e *Entra) SetManagedIdentityCaching(caching bool) {
	e.miCaching.Store(caching)
	if !caching {
		e.mu.Lock()
		e.miCached = ""
		e.mu.Unlock()
	}
}

// logged records every request before passing it on.
func (e *Entra) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.log = append(e.log, r.Method+" "+r.URL.Path)
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (e *Entra) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if e.down.Load() {
		entraDown(w)
		return
	}
	tenant := r.PathValue("tenant")
	if tenant != e.cfg.TenantID {
		entraError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := e.srv.URL + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/openid/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

func (e *Entra) handleToken(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	if e.down.Load() {
		entraDown(w)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		entraError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	form := r.PostForm
	recorded := make(url.Values, len(form))
	for k, v := range form {
		if k != "client_secret" && k != "client_assertion" {
			recorded[k] = append([]string(nil), v...)
		}
	}
	auth := ""
	switch {
	case form.Has("client_secret"):
		auth = "client_secret"
	case form.Has("client_assertion"):
		auth = "client_assertion"
	}
	e.mu.Lock()
	e.lastForm, e.lastAuth = recorded, auth
	if auth == "client_assertion" {
		e.assertions = append(e.assertions, form.Get("client_assertion"))
	}
	e.mu.Unlock()

	tenant := r.PathValue("tenant")
	if tenant != e.cfg.TenantID {
		entraError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		entraError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'; this fake supports client_credentials.", gt))
		return
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if clientID != e.cfg.ClientID {
		entraError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
		return
	}
	scope := form.Get("scope")
	if scope == "" {
		entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return
	}
	// MSAL adds the OpenID scopes to every request; Entra ID ignores them for client credentials.
	var resources []string
	for _, sc := range strings.Fields(scope) {
		if sc != "openid" && sc != "profile" && sc != "offline_access" {
			resources = append(resources, sc)
		}
	}
	if len(resources) != 1 || !strings.HasSuffix(resources[0], "/.default") {
		entraError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
		return
	}
	switch auth {
	case "client_secret":
		ok := e.cfg.ClientSecret != "" && subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(e.cfg.ClientSecret)) == 1
		if !ok {
			entraError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
		if e.secretExpired.Load() {
			entraError(w, http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID))
			return
		}
	case "client_assertion":
		if form.Get("client_assertion_type") != ClientAssertionType {
			entraError(w, http.StatusBadRequest, "invalid_request", 50027, "The client_assertion_type must be "+ClientAssertionType+".")
			return
		}
		if !entraLooksLikeJWT(form.Get("client_assertion")) {
			entraError(w, http.StatusUnauthorized, "invalid_client", 50027, "JWT token is invalid or malformed.")
			return
		}
	default:
		entraError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}

	token, lifetime := e.issue()
	resp := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     entraSeconds(lifetime),
		"ext_expires_in": entraSeconds(lifetime),
		"access_token":   token,
	}
	if ri := time.Duration(e.refreshIn.Load()); ri > 0 {
		resp["refresh_in"] = entraSeconds(ri)
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}
