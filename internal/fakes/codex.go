package fakes

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// CodexTokenPath is the path of a CodexAuthServer's token endpoint, as on auth.openai.com.
const CodexTokenPath = "/oauth/token"

// CodexBasePath is the path of the ChatGPT Codex backend under which a CodexUpstream serves.
const CodexBasePath = "/backend-api/codex"

// DefaultCodexClientID is the Codex CLI's OAuth client id, which a CodexAuthServer expects by default.
const DefaultCodexClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// DefaultCodexAccessLife is the lifetime of access tokens a CodexAuthServer issues when
// CodexAuthConfig.AccessLife is zero.
const DefaultCodexAccessLife = time.Hour

// CodexAuthClaim is the JWT claim OpenAI puts the ChatGPT account under.
const CodexAuthClaim = "https://api.openai.com/auth"

// CodexAuthConfig configures a CodexAuthServer.
type CodexAuthConfig struct {
	// ClientID is the client id refresh requests must carry (default DefaultCodexClientID).
	ClientID string
	// AccountID is the ChatGPT account of every token issued (default a random UUID).
	AccountID string
	// AccessLife is the lifetime of issued access tokens (default DefaultCodexAccessLife).
	AccessLife time.Duration
	// OnReused, when set, runs on the request's goroutine just before the server answers
	// refresh_token_reused, with the refresh token that was presented; tests use it to play another process
	// that redeemed the token and is rewriting auth.json.
	OnReused func(refreshToken string)
}

// CodexTokens is one set of tokens a CodexAuthServer issued.
type CodexTokens struct {
	// IDToken is a JWT naming the user and the ChatGPT account.
	IDToken string
	// AccessToken is a JWT whose exp is Expiry.
	AccessToken string
	// RefreshToken is opaque and single-use.
	RefreshToken string
	// Expiry is when AccessToken expires (whole seconds).
	Expiry time.Time
}

// CodexAuthServer is a loopback fake of auth.openai.com's token endpoint as the Codex CLI uses it: a JSON
// refresh_token grant whose refresh tokens rotate and are single-use.
type CodexAuthServer struct {
	holder       // Hold, Held, WaitHeld
	accessTokens // Valid, Revoke, RevokeAll

	srv       *httptest.Server
	clientID  string
	accountID string
	onReused  func(string)

	accessLife atomic.Int64 // time.Duration
	delay      atomic.Int64 // time.Duration
	decided    counter      // refresh requests whose refresh token was judged (spent, reused or unknown)
	down       atomic.Bool
	requests   atomic.Int64
	refreshes  atomic.Int64
	reused     atomic.Int64

	mu       sync.Mutex
	refresh  map[string]bool // refresh token -> already used
	lastBody map[string]any
}

// NewCodexAuthServer starts a token endpoint on 127.0.0.1.
func NewCodexAuthServer(cfg CodexAuthConfig) *CodexAuthServer {
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultCodexClientID
	}
	if cfg.AccountID == "" {
		cfg.AccountID = codexUUID()
	}
	if cfg.AccessLife <= 0 {
		cfg.AccessLife = DefaultCodexAccessLife
	}
	s := &CodexAuthServer{
		clientID:  cfg.ClientID,
		accountID: cfg.AccountID,
		onReused:  cfg.OnReused,
		refresh:   map[string]bool{},
	}
	s.accessLife.Store(int64(cfg.AccessLife))
	mux := http.NewServeMux()
	mux.HandleFunc(CodexTokenPath, s.handleToken)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the server down, releasing any held requests first.
func (s *CodexAuthServer) Close() {
	s.releaseAll()
	s.srv.Close()
}

// URL returns the server's base URL, e.g. http://127.0.0.1:port.
func (s *CodexAuthServer) URL() string { return s.srv.URL }

// TokenURL returns the token endpoint's URL (the value for the codex plugin's token_url).
func (s *CodexAuthServer) TokenURL() string { return s.srv.URL + CodexTokenPath }

// AccountID returns the ChatGPT account every issued token names.
func (s *CodexAuthServer) AccountID() string { return s.accountID }

// Requests returns how many requests reached the token endpoint, failures included.
func (s *CodexAuthServer) Requests() int64 { return s.requests.Load() }

// Refreshes returns how many refresh requests succeeded.
func (s *CodexAuthServer) Refreshes() int64 { return s.refreshes.Load() }

// Reused returns how many refresh requests presented a refresh token that had already been redeemed (each
// answered refresh_token_reused).
func (s *CodexAuthServer) Reused() int64 { return s.reused.Load() }

// SetDown makes the endpoint answer 503 with an HTML page while down is true.
func (s *CodexAuthServer) SetDown(down bool) { s.down.Store(down) }

// SetAccessLife changes the lifetime of access tokens issued from now on; d <= 0 restores
// DefaultCodexAccessLife.
func (s *CodexAuthServer) SetAccessLife(d time.Duration) {
	if d <= 0 {
		d = DefaultCodexAccessLife
	}
	s.accessLife.Store(int64(d))
}

// SetDelay makes the endpoint take d to answer a refresh request: the refresh token is judged (and spent)
// when the request arrives, and the answer goes out d later, as from a slow identity provider. Zero
// answers at once.
func (s *CodexAuthServer) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// WaitDecided blocks until n refresh requests have had their refresh token judged, or ctx ends.
func (s *CodexAuthServer) WaitDecided(ctx context.Context, n int64) error {
	return s.decided.wait(ctx, n)
}

// Live reports whether rt is a refresh token the endpoint issued (or was seeded with) and has not redeemed
// yet: the one a sign-in must hold to go on working.
func (s *CodexAuthServer) Live(rt string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	used, ok := s.refresh[rt]
	return ok && !used
}

// SeedRefreshToken registers rt as a valid, unused refresh token (for an auth.json a test wrote itself).
func (s *CodexAuthServer) SeedRefreshToken(rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[rt] = false
}

// Issue mints a fresh set of tokens, as a new `codex login` would; it is not counted as a request.
func (s *CodexAuthServer) Issue() CodexTokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked()
}

// Rotate redeems rt exactly as a successful refresh request would (rt becomes used, new tokens are
// issued) without counting a request or a refresh; tests use it to play another process.
func (s *CodexAuthServer) Rotate(rt string) (CodexTokens, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	used, ok := s.refresh[rt]
	switch {
	case !ok:
		return CodexTokens{}, errors.New("refresh_token_invalidated")
	case used:
		return CodexTokens{}, errors.New("refresh_token_reused")
	}
	s.refresh[rt] = true
	return s.issueLocked(), nil
}

// LastBody returns the JSON body of the last token request, with the refresh token's value replaced by
// "<redacted>".
func (s *CodexAuthServer) LastBody() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]any, len(s.lastBody))
	for k, v := range s.lastBody {
		out[k] = v
	}
	return out
}

// MakeJWT returns an unsigned-style JWT (header.payload.signature, with a dummy signature) carrying claims.
func (s *CodexAuthServer) MakeJWT(claims map[string]any) string { return MakeCodexJWT(claims) }

// MakeCodexJWT returns a JWT carrying claims with a dummy signature; no one checks it.
func MakeCodexJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "tokenhost-fake"})
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("fakes: claims cannot be encoded as JSON: %v", err))
	}
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString([]byte("fake-signature"))
}

// issueLocked mints tokens; s.mu must be held.
func (s *CodexAuthServer) issueLocked() CodexTokens {
	now := time.Now()
	exp := time.Unix(now.Add(time.Duration(s.accessLife.Load())).Unix(), 0)
	if !exp.After(now) {
		exp = exp.Add(time.Second)
	}
	auth := map[string]any{"chatgpt_account_id": s.accountID, "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-fake"}
	access := MakeCodexJWT(map[string]any{
		"iss": "https://auth.openai.com", "aud": []string{"https://api.openai.com/v1"}, "client_id": s.clientID,
		"exp": exp.Unix(), "iat": now.Unix(), "jti": codexRandom(12), "scp": []string{"openid", "profile", "email", "offline_access"},
		CodexAuthClaim: auth,
	})
	id := MakeCodexJWT(map[string]any{
		"iss": "https://auth.openai.com", "aud": []string{s.clientID}, "email": "user@example.com",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": codexRandom(12),
		CodexAuthClaim: auth,
	})
	rt := "rt_" + codexRandom(24)
	s.add(access, exp)
	s.refresh[rt] = false
	return CodexTokens{IDToken: id, AccessToken: access, RefreshToken: rt, Expiry: exp}
}

func (s *CodexAuthServer) handleToken(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !s.wait(r) {
		return
	}
	if s.down.Load() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>"+
			"<body><h1>Service Unavailable</h1><p>auth is down for maintenance.</p></body></html>\n")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		codexError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint accepts POST only")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		codexError(w, http.StatusBadRequest, "invalid_request", "the body must be application/json")
		return
	}
	var body map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&body); err != nil || body == nil || dec.More() {
		codexError(w, http.StatusBadRequest, "invalid_request", "the body is not a JSON object")
		return
	}
	recorded := make(map[string]any, len(body))
	for k, v := range body {
		if k == "refresh_token" {
			v = "<redacted>"
		}
		recorded[k] = v
	}
	s.mu.Lock()
	s.lastBody = recorded
	s.mu.Unlock()

	if id, _ := body["client_id"].(string); id != s.clientID {
		codexError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	if gt, _ := body["grant_type"].(string); gt != "refresh_token" {
		codexError(w, http.StatusBadRequest, "unsupported_grant_type", "only refresh_token is supported")
		return
	}
	rt, _ := body["refresh_token"].(string)
	if rt == "" {
		codexError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}

	s.mu.Lock()
	used, known := s.refresh[rt]
	var tokens CodexTokens
	if known && !used {
		s.refresh[rt] = true
		tokens = s.issueLocked()
	}
	s.mu.Unlock()
	s.decided.add(1)
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case !known:
		codexError(w, http.StatusUnauthorized, "refresh_token_invalidated", "Your refresh token has been invalidated. Please try signing in again.")
		return
	case used:
		s.reused.Add(1)
		if s.onReused != nil {
			s.onReused(rt)
		}
		codexError(w, http.StatusUnauthorized, "refresh_token_reused", "Your refresh token has already been used to generate a new access token. Please try signing in again.")
		return
	}
	s.refreshes.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"id_token":      tokens.IDToken,
		"access_token":  tokens.AccessToken,
		"refresh_token": tokens.RefreshToken,
	})
}

// codexError answers an error in the shape auth.openai.com uses: {"error":{"code","message",...}}.
func codexError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": code}})
}

// codexRandom returns n random bytes, hex-encoded.
func codexRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// codexUUID returns a random version 4 UUID.
func codexUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
