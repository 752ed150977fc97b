package fakes

import (
	"sync"
	"time"
)

// issuedToken is an access token a fake issued.
type issuedToken struct {
	expiry  time.Time
	revoked bool
}

// accessTokens records the access tokens a token server issued, so that upstreams can check them; the zero
// value is ready to use. The token servers embed it, so Valid, Revoke and RevokeAll are theirs.
type accessTokens struct {
	mu     sync.Mutex
	tokens map[string]*issuedToken
}

// Valid reports whether token was issued by this server, has not expired by the server's clock, and has not
// been revoked.
func (a *accessTokens) Valid(token string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tokens[token]
	return ok && !t.revoked && time.Now().Before(t.expiry)
}

// Revoke makes the access token invalid from now on.
func (a *accessTokens) Revoke(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.tokens[token]; ok {
		t.revoked = true
	}
}

// RevokeAll revokes every access token issued so far; refresh tokens, where the server has them, stay
// valid, so a client recovers by refreshing.
func (a *accessTokens) RevokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.tokens {
		t.revoked = true
	}
}

// add records token as issued and valid until expiry.
func (a *accessTokens) add(token string, expiry time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tokens == nil {
		a.tokens = map[string]*issuedToken{}
	}
	a.tokens[token] = &issuedToken{expiry: expiry}
}

// expiry returns when token expires, and whether it was issued by this server and not revoked.
func (a *accessTokens) expiry(token string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tokens[token]
	if !ok || t.revoked {
		return time.Time{}, false
	}
	return t.expiry, true
}
