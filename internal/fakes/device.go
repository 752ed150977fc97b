package fakes

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of a DeviceServer's endpoints.
const (
	DevicePath     = "/oauth2/device"
	DeviceVerify   = "/activate"
	RevocationPath = "/oauth2/revoke"
)

// DeviceServer is a loopback authorization server for a public client that signs people in by RFC 8628
// device code: it approves each device code at once (as if the user had entered it), answers its token
// endpoint's refresh_token grant with single-use, rotating refresh tokens, revokes refresh tokens (RFC
// 7009), and publishes RFC 8414 metadata. Its poll interval is one second.
type DeviceServer struct {
	holder       // Hold, Held, WaitHeld: token requests
	accessTokens // Valid, Revoke, RevokeAll

	srv      *httptest.Server
	clientID string

	mu        sync.Mutex
	codes     map[string]bool // device codes issued
	refresh   map[string]bool // refresh token -> still valid
	refreshes atomic.Int64
	revoked   atomic.Int64
	expiresIn atomic.Int64 // time.Duration
}

// NewDeviceServer starts a DeviceServer on 127.0.0.1 for the public client clientID.
func NewDeviceServer(clientID string) *DeviceServer {
	s := &DeviceServer{clientID: clientID, codes: map[string]bool{}, refresh: map[string]bool{}}
	s.expiresIn.Store(int64(DefaultExpiresIn))
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.handleMetadata)
	mux.HandleFunc(DevicePath, s.handleDevice)
	mux.HandleFunc(TokenPath, s.handleToken)
	mux.HandleFunc(RevocationPath, s.handleRevoke)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the server down, releasing any held requests first.
func (s *DeviceServer) Close() {
	s.releaseAll()
	s.srv.Close()
}

// URL returns the server's base URL, which is also its issuer.
func (s *DeviceServer) URL() string { return s.srv.URL }

// Refreshes returns how many refresh_token grants succeeded.
func (s *DeviceServer) Refreshes() int64 { return s.refreshes.Load() }

// Revoked returns how many refresh tokens were revoked at the revocation endpoint.
func (s *DeviceServer) Revoked() int64 { return s.revoked.Load() }

// SetExpiresIn changes the lifetime of access tokens issued from now on; d <= 0 restores DefaultExpiresIn.
func (s *DeviceServer) SetExpiresIn(d time.Duration) {
	if d <= 0 {
		d = DefaultExpiresIn
	}
	s.expiresIn.Store(int64(d))
}

func (s *DeviceServer) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": s.srv.URL, "token_endpoint": s.srv.URL + TokenPath,
		"device_authorization_endpoint": s.srv.URL + DevicePath, "revocation_endpoint": s.srv.URL + RevocationPath,
		"grant_types_supported":                 []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"none"},
	})
}

// form parses a POSTed form for the client; it answers the error itself and returns false on failure.
func (s *DeviceServer) form(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return false
	}
	if r.PostForm.Get("client_id") != s.clientID {
		clientError(w, "unknown client")
		return false
	}
	return true
}

func (s *DeviceServer) handleDevice(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	code := newOpaqueToken()
	s.mu.Lock()
	s.codes[code] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": code, "user_code": "WDJB-MJHT", "verification_uri": s.srv.URL + DeviceVerify,
		"verification_uri_complete": s.srv.URL + DeviceVerify + "?user_code=WDJB-MJHT", "expires_in": 600, "interval": 1,
	})
}

func (s *DeviceServer) handleToken(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r) || !s.form(w, r) {
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		if !s.codes[f.Get("device_code")] {
			oauthError(w, http.StatusBadRequest, "expired_token", "unknown or used device code")
			return
		}
		delete(s.codes, f.Get("device_code"))
	case "refresh_token":
		if !s.refresh[f.Get("refresh_token")] {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, revoked or already used")
			return
		}
		delete(s.refresh, f.Get("refresh_token")) // single use: rotation
		s.refreshes.Add(1)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "device_code and refresh_token only")
		return
	}
	lifetime := time.Duration(s.expiresIn.Load())
	at, rt := newOpaqueToken(), newOpaqueToken()
	s.add(at, time.Now().Add(lifetime))
	s.refresh[rt] = true
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "refresh_token": rt,
		"expires_in": max(int64(lifetime/time.Second), 1)})
}

func (s *DeviceServer) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	s.mu.Lock()
	if s.refresh[r.PostForm.Get("token")] {
		delete(s.refresh, r.PostForm.Get("token"))
		s.revoked.Add(1)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK) // RFC 7009 §2.2: 200 whether or not the token was valid
}
