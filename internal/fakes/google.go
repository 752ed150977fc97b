package fakes

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GoogleTokenPath is the path of a GoogleTokenServer's token endpoint.
const GoogleTokenPath = "/token"

// DefaultGoogleExpiresIn is the lifetime of access tokens a GoogleTokenServer issues by default; Google
// answers expires_in 3599.
const DefaultGoogleExpiresIn = 3599 * time.Second

// JWTBearerGrant is the grant_type of the RFC 7523 JWT-bearer grant service accounts use.
const JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// GeminiScopes are the scopes the Gemini CLI asks for, as Google reports them for its refresh tokens.
const GeminiScopes = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid"

// googleMaxAssertionLife is the longest lifetime (exp - iat) Google accepts for a JWT-bearer assertion, plus slack
// for clock skew.
const googleMaxAssertionLife = time.Hour + time.Minute

// googleClockSkew is how far in the future an assertion's iat may be.
const googleClockSkew = time.Minute

// GoogleTokenConfig describes the OAuth client a GoogleTokenServer knows and how it issues tokens.
type GoogleTokenConfig struct {
	// ClientID is the OAuth client refresh grants must name (more can be added with AddClient).
	ClientID string
	// ClientSecret is ClientID's secret.
	ClientSecret string
	// ExpiresIn is the lifetime of issued access tokens (default DefaultGoogleExpiresIn), reported as
	// expires_in in whole seconds (at least 1).
	ExpiresIn time.Duration
	// Scope is the scope reported for refresh grants (default GeminiScopes).
	Scope string
	// RotateRefreshTokens makes refresh grants answer a new refresh_token and retire the one redeemed;
	// by default, as Google does, no refresh_token comes back and the stored one stays valid.
	RotateRefreshTokens bool
}

// GoogleTokenServer is a loopback fake of Google's OAuth 2.0 token endpoint (oauth2.googleapis.com/token):
// the refresh_token grant (client id and secret in the form) and the JWT-bearer grant of service accounts
// (RS256 assertions checked against registered public keys).
type GoogleTokenServer struct {
	holder       // Hold, Held, WaitHeld
	accessTokens // Valid, Revoke, RevokeAll

	srv *httptest.Server
	cfg GoogleTokenConfig

	expiresIn  atomic.Int64 // time.Duration
	down       atomic.Bool
	requests   atomic.Int64
	refreshes  atomic.Int64
	assertions atomic.Int64

	mu         sync.Mutex
	clients    map[string]string         // client id -> secret
	refresh    map[string]bool           // refresh token -> valid
	accounts   map[string]*rsa.PublicKey // service account email -> key
	lastForm   url.Values
	lastClaims map[string]any
	failStatus int
	failCode   string
	failDesc   string
}

// NewGoogleTokenServer starts a fake Google token endpoint on 127.0.0.1.
func NewGoogleTokenServer(cfg GoogleTokenConfig) *GoogleTokenServer {
	if cfg.ExpiresIn <= 0 {
		cfg.ExpiresIn = DefaultGoogleExpiresIn
	}
	if cfg.Scope == "" {
		cfg.Scope = GeminiScopes
	}
	s := &GoogleTokenServer{
		cfg:      cfg,
		clients:  map[string]string{},
		refresh:  map[string]bool{},
		accounts: map[string]*rsa.PublicKey{},
	}
	if cfg.ClientID != "" {
		s.clients[cfg.ClientID] = cfg.ClientSecret
	}
	s.expiresIn.Store(int64(cfg.ExpiresIn))
	mux := http.NewServeMux()
	mux.HandleFunc(GoogleTokenPath, s.handleToken)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the server down, releasing any held requests first.
func (s *GoogleTokenServer) Close() {
	s.releaseAll()
	s.srv.Close()
}

// URL returns the server's base URL, e.g. http://127.0.0.1:port.
func (s *GoogleTokenServer) URL() string { return s.srv.URL }

// TokenURL returns the token endpoint's URL; service account assertions must name it as their aud.
func (s *GoogleTokenServer) TokenURL() string { return s.srv.URL + GoogleTokenPath }

// AddClient registers another OAuth client refresh grants may name.
func (s *GoogleTokenServer) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// AddRefreshToken registers a refresh token the refresh grant accepts.
func (s *GoogleTokenServer) AddRefreshToken(rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[rt] = true
}

// RevokeRefreshToken makes rt fail with invalid_grant from now on.
func (s *GoogleTokenServer) RevokeRefreshToken(rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.refresh[rt]; ok {
		s.refresh[rt] = false
	}
}

// AddServiceAccount registers a service account whose assertions are verified with pub.
func (s *GoogleTokenServer) AddServiceAccount(email string, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[email] = pub
}

// Requests returns how many requests reached the token endpoint, failures included.
func (s *GoogleTokenServer) Requests() int64 { return s.requests.Load() }

// Refreshes returns how many access tokens the refresh grant issued.
func (s *GoogleTokenServer) Refreshes() int64 { return s.refreshes.Load() }

// Assertions returns how many access tokens the JWT-bearer grant issued.
func (s *GoogleTokenServer) Assertions() int64 { return s.assertions.Load() }

// Issued returns how many access tokens the server issued, by either grant.
func (s *GoogleTokenServer) Issued() int64 { return s.refreshes.Load() + s.assertions.Load() }

// SetExpiresIn changes the lifetime of tokens issued from now on; d <= 0 restores the configured lifetime.
func (s *GoogleTokenServer) SetExpiresIn(d time.Duration) {
	if d <= 0 {
		d = s.cfg.ExpiresIn
	}
	s.expiresIn.Store(int64(d))
}

// SetDown makes the endpoint answer 503 with an HTML page (an outage) while down is true.
func (s *GoogleTokenServer) SetDown(down bool) { s.down.Store(down) }

// SetError makes every token request fail with status and an OAuth error body {"error": code,
// "error_description": desc}; status 0 restores normal answers.
func (s *GoogleTokenServer) SetError(status int, code, desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failCode, s.failDesc = status, code, desc
}

// LastForm returns a copy of the form of the last token request, with the values of client_secret,
// refresh_token and assertion replaced by "[redacted]".
func (s *GoogleTokenServer) LastForm() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(url.Values, len(s.lastForm))
	for k, v := range s.lastForm {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// LastClaims returns the claims of the last JWT assertion whose signature verified, or nil.
func (s *GoogleTokenServer) LastClaims() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastClaims == nil {
		return nil
	}
	out := make(map[string]any, len(s.lastClaims))
	for k, v := range s.lastClaims {
		out[k] = v
	}
	return out
}

func (s *GoogleTokenServer) handleToken(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !s.wait(r) {
		return
	}
	if s.down.Load() {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<!DOCTYPE html><html lang=en><title>Error 503 (Service Unavailable)!!1</title>"+
			"<p><b>503.</b> <ins>That’s an error.</ins><p>The service is temporarily unavailable.</html>\n")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "Invalid HTTP method.")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid content type.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid request body.")
		return
	}
	form := r.PostForm
	recorded := make(url.Values, len(form))
	for k, v := range form {
		switch k {
		case "client_secret", "refresh_token", "assertion":
			recorded[k] = []string{"[redacted]"}
		default:
			recorded[k] = append([]string(nil), v...)
		}
	}
	s.mu.Lock()
	s.lastForm = recorded
	status, code, desc := s.failStatus, s.failCode, s.failDesc
	s.mu.Unlock()
	if status != 0 {
		oauthError(w, status, code, desc)
		return
	}

	switch gt := form.Get("grant_type"); gt {
	case "refresh_token":
		s.refreshGrant(w, r, form)
	case JWTBearerGrant:
		s.jwtGrant(w, form)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
	}
}

func (s *GoogleTokenServer) refreshGrant(w http.ResponseWriter, r *http.Request, form url.Values) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	s.mu.Lock()
	want, known := s.clients[id]
	s.mu.Unlock()
	if id == "" || !known || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: refresh_token")
		return
	}
	s.mu.Lock()
	ok := s.refresh[rt]
	var next string
	if ok && s.cfg.RotateRefreshTokens {
		s.refresh[rt] = false
		next = "1//fake-" + newOpaqueToken()
		s.refresh[next] = true
	}
	s.mu.Unlock()
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	resp := s.issue(s.cfg.Scope)
	if next != "" {
		resp["refresh_token"] = next
	}
	s.refreshes.Add(1)
	writeJSON(w, http.StatusOK, resp)
}

func (s *GoogleTokenServer) jwtGrant(w http.ResponseWriter, form url.Values) {
	claims, err := s.verifyAssertion(form.Get("assertion"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	scope, _ := claims["scope"].(string)
	resp := s.issue(scope)
	s.assertions.Add(1)
	writeJSON(w, http.StatusOK, resp)
}

// issue mints an access token and returns the token response for it.
func (s *GoogleTokenServer) issue(scope string) map[string]any {
	lifetime := time.Duration(s.expiresIn.Load())
	token := "ya29.fake-" + newOpaqueToken()
	s.add(token, time.Now().Add(lifetime))
	seconds := int64(lifetime / time.Second)
	if seconds < 1 {
		seconds = 1
	}
	resp := map[string]any{"access_token": token, "expires_in": seconds, "token_type": "Bearer"}
	if scope != "" {
		resp["scope"] = scope
	}
	return resp
}

// verifyAssertion checks an RS256 JWT-bearer assertion as Google does and returns its claims. Its errors
// are the error_description texts Google answers.
func (s *GoogleTokenServer) verifyAssertion(assertion string) (map[string]any, error) {
	if assertion == "" {
		return nil, errors.New("Missing required parameter: assertion")
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := googleDecodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return nil, errors.New("Invalid JWT header.")
	}
	var claims map[string]any
	if err := googleDecodeSegment(parts[1], &claims); err != nil {
		return nil, errors.New("Invalid JWT payload.")
	}
	iss, _ := claims["iss"].(string)
	s.mu.Lock()
	pub := s.accounts[iss]
	s.mu.Unlock()
	if pub == nil {
		return nil, errors.New("Invalid grant: account not found")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("Invalid JWT Signature.")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return nil, errors.New("Invalid JWT Signature.")
	}
	if aud, _ := claims["aud"].(string); aud != s.TokenURL() {
		return nil, errors.New("Invalid JWT: audience does not match the token endpoint.")
	}
	if scope, _ := claims["scope"].(string); strings.TrimSpace(scope) == "" {
		return nil, errors.New("Invalid OAuth scope or ID token audience provided.")
	}
	iat, ok1 := claims["iat"].(float64)
	exp, ok2 := claims["exp"].(float64)
	now := time.Now()
	if !ok1 || !ok2 || math.IsNaN(iat) || math.IsNaN(exp) {
		return nil, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	}
	iatT, expT := time.Unix(int64(iat), 0), time.Unix(int64(exp), 0)
	if iatT.After(now.Add(googleClockSkew)) || !expT.After(now) || !expT.After(iatT) || expT.Sub(iatT) > googleMaxAssertionLife {
		return nil, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	s.mu.Lock()
	s.lastClaims = claims
	s.mu.Unlock()
	return claims, nil
}

func googleDecodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
