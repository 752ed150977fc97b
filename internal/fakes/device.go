package fakes

import (
	"context"
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
//
// Each sign-in starts a family of refresh tokens. Presenting a refresh token that was already redeemed
// is reuse (OAuth 2.0 Security BCP §4.14.2): the server answers invalid_grant and revokes the whole
// family, so the sign-in's current refresh token dies too. A token request held by Hold is judged only
// after the hold, and only if its client is still there: a request whose client went away meanwhile is
// dropped without redeeming anything (Abandoned counts them), as by a server that had not yet run the grant.
//
// Each sign-in is one person's: whoever SetUser last named when its device code was issued ("alice" by
// default). UserOf tells whose an access token is.
type DeviceServer struct {
	holder       // Hold, Held, WaitHeld: token requests
	accessTokens // Valid, Revoke, RevokeAll

	srv      *httptest.Server
	clientID string

	mu        sync.Mutex
	codes     map[string]bool // device codes issued
	refresh   map[string]int  // live refresh token -> its family
	spent     map[string]int  // redeemed refresh token -> its family
	families  int
	refreshes counter      // refresh_token grants that succeeded (rotations)
	calls     atomic.Int64 // refresh_token grant requests judged, whatever their outcome
	invalid   atomic.Int64 // refresh_token grants answered invalid_grant
	reused    atomic.Int64 // families revoked because a redeemed refresh token came back
	revoked   atomic.Int64
	abandoned counter
	expiresIn atomic.Int64 // time.Duration

	// Who is who, under mu (SetUser, UserOf).
	user   string            // who approves the next device code
	codeOf map[string]string // device code -> the person who approves it
	people map[int]string    // family -> its person
	owners map[string]string // access token -> its person
}

// NewDeviceServer starts a DeviceServer on 127.0.0.1 for the public client clientID.
func NewDeviceServer(clientID string) *DeviceServer {
	s := &DeviceServer{clientID: clientID, codes: map[string]bool{}, refresh: map[string]int{}, spent: map[string]int{},
		user: "alice", codeOf: map[string]string{}, people: map[int]string{}, owners: map[string]string{}}
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

// Refreshes returns how many refresh_token grants succeeded: how many times a refresh token rotated.
func (s *DeviceServer) Refreshes() int64 { return s.refreshes.value() }

// WaitRefreshes blocks until at least n refresh_token grants succeeded, or ctx ends.
func (s *DeviceServer) WaitRefreshes(ctx context.Context, n int64) error {
	return s.refreshes.wait(ctx, n)
}

// RefreshCalls returns how many refresh_token grant requests the server judged (succeeded or refused);
// abandoned requests are not among them.
func (s *DeviceServer) RefreshCalls() int64 { return s.calls.Load() }

// Judged returns RefreshCalls and Refreshes read at one instant: a request being judged is in both or in
// neither, so a test that compares them never catches one counted as a call but not yet as a rotation.
func (s *DeviceServer) Judged() (calls, rotations int64) {
	s.mu.Lock() // held by the token handler from counting a call until it has counted its rotation
	defer s.mu.Unlock()
	return s.calls.Load(), s.refreshes.value()
}

// InvalidGrants returns how many refresh_token grants were answered invalid_grant.
func (s *DeviceServer) InvalidGrants() int64 { return s.invalid.Load() }

// Reuses returns how many families were revoked because a redeemed refresh token was presented again.
func (s *DeviceServer) Reuses() int64 { return s.reused.Load() }

// Abandoned returns how many token requests were dropped unjudged because their client went away while
// they were held.
func (s *DeviceServer) Abandoned() int64 { return s.abandoned.value() }

// WaitAbandoned blocks until at least n held token requests were abandoned by their clients, or ctx ends.
func (s *DeviceServer) WaitAbandoned(ctx context.Context, n int64) error {
	return s.abandoned.wait(ctx, n)
}

// Revoked returns how many refresh tokens were revoked at the revocation endpoint.
func (s *DeviceServer) Revoked() int64 { return s.revoked.Load() }

// SetUser makes name the person who approves the device codes issued from now on: their sign-ins, and
// every access token refreshed from them, are name's.
func (s *DeviceServer) SetUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = name
}

// UserOf returns the person an access token was issued to, or "" for a token this server did not issue.
func (s *DeviceServer) UserOf(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[token]
}

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
	s.codes[code], s.codeOf[code] = true, s.user
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": code, "user_code": "WDJB-MJHT", "verification_uri": s.srv.URL + DeviceVerify,
		"verification_uri_complete": s.srv.URL + DeviceVerify + "?user_code=WDJB-MJHT", "expires_in": 600, "interval": 1,
	})
}

func (s *DeviceServer) handleToken(w http.ResponseWriter, r *http.Request) {
	// The form is read first, so that the server notices a client that goes away during a hold.
	if !s.form(w, r) {
		return
	}
	if !s.wait(r) || r.Context().Err() != nil {
		s.abandoned.add(1)
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	var family int
	switch f.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		if !s.codes[f.Get("device_code")] {
			oauthError(w, http.StatusBadRequest, "expired_token", "unknown or used device code")
			return
		}
		delete(s.codes, f.Get("device_code"))
		s.families++
		family = s.families
		s.people[family] = s.codeOf[f.Get("device_code")]
	case "refresh_token":
		s.calls.Add(1)
		rt := f.Get("refresh_token")
		fam, live := s.refresh[rt]
		if !live {
			s.invalid.Add(1)
			if fam, used := s.spent[rt]; used {
				s.revokeFamily(fam)
				oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was already used; every refresh token of this sign-in is revoked")
				return
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, revoked or already used")
			return
		}
		delete(s.refresh, rt) // single use: rotation
		s.spent[rt] = fam
		s.refreshes.add(1)
		family = fam
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "device_code and refresh_token only")
		return
	}
	lifetime := time.Duration(s.expiresIn.Load())
	at, rt := newOpaqueToken(), newOpaqueToken()
	s.add(at, time.Now().Add(lifetime))
	s.owners[at] = s.people[family]
	s.refresh[rt] = family
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "refresh_token": rt,
		"expires_in": max(int64(lifetime/time.Second), 1)})
}

// revokeFamily kills every live refresh token of family fam. The caller holds s.mu.
func (s *DeviceServer) revokeFamily(fam int) {
	s.reused.Add(1)
	for rt, f := range s.refresh {
		if f == fam {
			delete(s.refresh, rt)
		}
	}
}

func (s *DeviceServer) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	s.mu.Lock()
	if _, ok := s.refresh[r.PostForm.Get("token")]; ok {
		delete(s.refresh, r.PostForm.Get("token"))
		s.revoked.Add(1)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK) // RFC 7009 §2.2: 200 whether or not the token was valid
}
