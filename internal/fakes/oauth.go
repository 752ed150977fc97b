// Package fakes holds loopback fakes of the identity systems and upstream APIs tokenhost talks to. They
// speak the real wire formats, are safe for concurrent use, and serve both end-to-end tests and the
// `tokenhost demo` command.
package fakes

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultExpiresIn is the lifetime of access tokens an OAuthServer issues when OAuthConfig.ExpiresIn is zero.
const DefaultExpiresIn = time.Hour

// TokenPath is the path of an OAuthServer's token endpoint.
const TokenPath = "/oauth2/token"

// OAuthConfig describes the one client an OAuthServer knows.
type OAuthConfig struct {
	// ClientID is the registered client's identifier.
	ClientID string
	// ClientSecret is the registered client's secret.
	ClientSecret string
	// ExpiresIn is the lifetime of issued access tokens (default DefaultExpiresIn), reported as expires_in
	// in whole seconds (at least 1).
	ExpiresIn time.Duration
	// TokenExchange makes the server also accept RFC 8693 token exchange with any non-empty subject_token
	// and subject_token_type (it does not verify the subject token).
	TokenExchange bool
	// JWTBearer makes the server also accept the RFC 7523 jwt-bearer grant with any assertion shaped like a
	// compact JWT (it does not verify the signature).
	JWTBearer bool
}

// OAuthServer is a loopback OAuth 2.0 authorization server's token endpoint (client_credentials grant).
type OAuthServer struct {
	holder       // Hold, Held, WaitHeld
	accessTokens // Valid, Revoke, RevokeAll

	srv *httptest.Server
	cfg OAuthConfig

	expiresIn atomic.Int64 // time.Duration
	down      atomic.Bool
	fault     atomic.Int32 // TokenFault
	issued    atomic.Int64
	requests  atomic.Int64

	mu        sync.Mutex
	lastForm  url.Values
	lastStyle string
}

// NewOAuthServer starts a token endpoint on 127.0.0.1 for the client in cfg.
func NewOAuthServer(cfg OAuthConfig) *OAuthServer {
	s := &OAuthServer{cfg: cfg}
	if cfg.ExpiresIn <= 0 {
		cfg.ExpiresIn = DefaultExpiresIn
	}
	s.expiresIn.Store(int64(cfg.ExpiresIn))
	mux := http.NewServeMux()
	mux.HandleFunc(TokenPath, s.handleToken)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the server down, releasing any held requests first.
func (s *OAuthServer) Close() {
	s.releaseAll()
	s.srv.Close()
}

// URL returns the server's base URL, e.g. http://127.0.0.1:port.
func (s *OAuthServer) URL() string { return s.srv.URL }

// TokenURL returns the token endpoint's URL.
func (s *OAuthServer) TokenURL() string { return s.srv.URL + TokenPath }

// Issued returns how many access tokens the server has issued.
func (s *OAuthServer) Issued() int64 { return s.issued.Load() }

// Requests returns how many requests reached the token endpoint, failures included.
func (s *OAuthServer) Requests() int64 { return s.requests.Load() }

// SetExpiresIn changes the lifetime of tokens issued from now on; d <= 0 restores DefaultExpiresIn.
func (s *OAuthServer) SetExpiresIn(d time.Duration) {
	if d <= 0 {
		d = DefaultExpiresIn
	}
	s.expiresIn.Store(int64(d))
}

// SetDown makes the endpoint answer 503 with an HTML page (an identity provider outage) while down is true.
func (s *OAuthServer) SetDown(down bool) { s.down.Store(down) }

// LastForm returns a copy of the form of the last token request, with client_secret removed.
func (s *OAuthServer) LastForm() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(url.Values, len(s.lastForm))
	for k, v := range s.lastForm {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// LastAuthStyle returns how the last request authenticated the client: "basic" (client_secret_basic),
// "post" (client_secret_post), "both", or "" (neither).
func (s *OAuthServer) LastAuthStyle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastStyle
}

func (s *OAuthServer) handleToken(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !s.wait(r) || s.serveFault(w, r) {
		return
	}
	if s.down.Load() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>" +
			"<body><h1>Service Unavailable</h1><p>The identity provider is down for maintenance.</p></body></html>\n"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint accepts POST only")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a valid form")
		return
	}
	form := r.PostForm

	basicUser, basicPass, hasBasic := r.BasicAuth()
	_, hasPostSecret := form["client_secret"]
	style := ""
	switch {
	case hasBasic && hasPostSecret:
		style = "both"
	case hasBasic:
		style = "basic"
	case hasPostSecret:
		style = "post"
	}
	recorded := make(url.Values, len(form))
	for k, v := range form {
		if k != "client_secret" {
			recorded[k] = append([]string(nil), v...)
		}
	}
	s.mu.Lock()
	s.lastForm, s.lastStyle = recorded, style
	s.mu.Unlock()

	var id, secret string
	switch style {
	case "basic":
		// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(basicUser)
		secret, err2 = url.QueryUnescape(basicPass)
		if err1 != nil || err2 != nil {
			clientError(w, "the Basic credentials are not form-urlencoded")
			return
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			clientError(w, "client_id in the body does not match the Basic credentials")
			return
		}
	case "post":
		id, secret = form.Get("client_id"), form.Get("client_secret")
	case "both":
		clientError(w, "the client authenticated with more than one method")
		return
	default:
		if r.Header.Get("Authorization") != "" {
			clientError(w, "unsupported Authorization scheme; use Basic")
		} else {
			clientError(w, "client authentication is required")
		}
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
	if !idOK || !secretOK {
		clientError(w, "client authentication failed")
		return
	}

	switch gt := form.Get("grant_type"); {
	case gt == "client_credentials":
	case gt == "urn:ietf:params:oauth:grant-type:token-exchange" && s.cfg.TokenExchange:
		if form.Get("subject_token") == "" || form.Get("subject_token_type") == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token and subject_token_type are required")
			return
		}
	case gt == "urn:ietf:params:oauth:grant-type:jwt-bearer" && s.cfg.JWTBearer:
		if strings.Count(form.Get("assertion"), ".") != 2 {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the assertion is not a JWT")
			return
		}
	case gt == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+gt+" is not enabled")
		return
	}

	lifetime := time.Duration(s.expiresIn.Load())
	token := newOpaqueToken()
	s.add(token, time.Now().Add(lifetime))
	s.issued.Add(1)

	seconds := int64(lifetime / time.Second)
	if seconds < 1 {
		seconds = 1
	}
	resp := map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": seconds}
	if sc := form.Get("scope"); sc != "" {
		resp["scope"] = sc
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// clientError answers an RFC 6749 §5.2 invalid_client error.
func clientError(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="fake-idp"`)
	oauthError(w, http.StatusUnauthorized, "invalid_client", desc)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newOpaqueToken returns 32 random bytes, base64url-encoded without padding.
func newOpaqueToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
