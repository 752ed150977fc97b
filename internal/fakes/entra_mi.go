package fakes

// The managed identity endpoint, and the replies both Entra endpoints share.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (e *Entra) handleManagedIdentity(w http.ResponseWriter, r *http.Request) {
	e.miRequests.Add(1)
	q := r.URL.Query()
	headerOK := subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(e.cfg.IdentityHeader)) == 1
	e.mu.Lock()
	e.miQuery, e.miHeader = q, headerOK
	e.mu.Unlock()
	miError := func(status int, msg string) {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": entraUUID()})
	}
	switch {
	case e.down.Load():
		miError(http.StatusServiceUnavailable, "The managed identity endpoint is temporarily unavailable.")
		return
	case r.Method != http.MethodGet:
		miError(http.StatusMethodNotAllowed, "Only GET is supported.")
		return
	case !headerOK:
		miError(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or incorrect.")
		return
	case q.Get("api-version") != ManagedIdentityAPIVersion:
		miError(http.StatusBadRequest, "The api-version is invalid; this endpoint supports "+ManagedIdentityAPIVersion+".")
		return
	case q.Get("resource") == "":
		miError(http.StatusBadRequest, "The resource parameter is required.")
		return
	case q.Get("client_id") != "" && q.Get("client_id") != e.cfg.ClientID:
		miError(http.StatusBadRequest, "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	var (
		token  string
		expiry time.Time
	)
	if e.miCaching.Load() {
		e.mu.Lock()
		cached := e.miCached
		e.mu.Unlock()
		if exp, ok := e.expiry(cached); ok && time.Until(exp) > 5*time.Minute {
			token, expiry = cached, exp
		}
	}
	if token == "" {
		var lifetime time.Duration
		token, lifetime = e.issue()
		expiry = time.Now().Add(lifetime)
		if e.miCaching.Load() {
			e.mu.Lock()
			e.miCached = token
			e.mu.Unlock()
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_on":   strconv.FormatInt(expiry.Unix(), 10),
		"resource":     q.Get("resource"),
		"token_type":   "Bearer",
		"client_id":    e.cfg.ClientID,
	})
}

// issue records a new access token and returns it with its lifetime.
func (e *Entra) issue() (string, time.Duration) {
	lifetime := time.Duration(e.expiresIn.Load())
	token := newOpaqueToken()
	e.add(token, time.Now().Add(lifetime))
	e.issued.Add(1)
	return token, lifetime
}

// entraError answers an Entra ID error: the OAuth error, the AADSTS code in the description and in
// error_codes, and the trace and correlation IDs Entra ID adds.
func entraError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	trace, corr := entraUUID(), entraUUID()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, trace, corr, ts),
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         "https://login.microsoftonline.com/error?code=" + strconv.Itoa(aadsts),
	})
}

func entraDown(w http.ResponseWriter) {
	entraError(w, http.StatusServiceUnavailable, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
}

// entraLooksLikeJWT reports whether s has three base64url parts, the first a JSON object.
func entraLooksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var m map[string]any
	return json.Unmarshal(head, &m) == nil
}

// seconds returns d in whole seconds, at least 1.
func entraSeconds(d time.Duration) int64 { return max(int64(d/time.Second), 1) }

// entraUUID returns a random version 4 UUID.
func entraUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
