package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/sdk"
)

// A credential helper is a command a tool runs for its key and runs again, with the same arguments,
// after the upstream rejected that key (Codex's auth command, Claude Code's apiKeyHelper, client-go's
// exec plugins); it cannot say which key failed. `tokenhost token --helper` therefore treats a second run
// by the same caller for the same token as a report that the token was rejected: the token is refreshed
// as the wrapper refreshes after a 401, at most once per min_refresh_interval. Runs by callers that have
// not had the token yet (a new `codex exec`, each kubectl command) get it as it is while it is not due.

// maxHelperCallers bounds the callers the record keeps per token; the oldest go first.
const maxHelperCallers = 64

// helperRecord is what the cache file keeps (field "helper") about the helper runs of its provider: which
// callers got the current token, and when a re-ask last refreshed it. It holds a fingerprint of the token,
// never the token.
type helperRecord struct {
	// Token is the fingerprint of the token the runs below got.
	Token string `json:"token,omitempty"`
	// Callers are the caller identities (callerIdentity) that got it, oldest first.
	Callers []string `json:"callers,omitempty"`
	// Runs counts the helper runs that got it, whether or not their caller could be told.
	Runs int `json:"runs,omitempty"`
	// RefreshedAt is when a re-ask last refreshed the provider's token: the throttle.
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
}

// fingerprint names a token in the helper record and on the control socket without revealing it.
func fingerprint(tok string) string {
	sum := sha256.Sum256([]byte("tokenhost helper\x00" + tok))
	return hex.EncodeToString(sum[:16])
}

// asked reports whether caller ("" when unknown) already got the token the record is about: a run
// without an identity counts as one once any run got it.
func (r helperRecord) asked(caller string) bool {
	if r.Token == "" {
		return false
	}
	if caller == "" {
		return r.Runs > 0
	}
	return slices.Contains(r.Callers, caller)
}

// served notes that caller got the token whose fingerprint is fp; a new token starts a new list, and the
// list keeps the newest maxHelperCallers.
func (r *helperRecord) served(fp, caller string) {
	if r.Token != fp {
		r.Token, r.Callers, r.Runs = fp, nil, 0
	}
	r.Runs++
	if caller != "" && !slices.Contains(r.Callers, caller) {
		r.Callers = append(r.Callers, caller)
	}
	if n := len(r.Callers) - maxHelperCallers; n > 0 { // also a longer list read from the file
		r.Callers = slices.Delete(r.Callers, 0, n)
	}
}

// throttled reports whether a re-ask at now must not refresh: one did less than interval ago.
func (r helperRecord) throttled(interval time.Duration, now time.Time) bool {
	return interval > 0 && !r.RefreshedAt.IsZero() && !r.RefreshedAt.After(now) && now.Sub(r.RefreshedAt) < interval
}

// readRecord returns the helper record of pc's cache file (zero when there is none).
func (c tokenCache) readRecord(pc *config.Provider) helperRecord {
	var r helperRecord
	if raw, ok := c.readRaw(pc)["helper"]; ok {
		_ = json.Unmarshal(raw, &r)
	}
	return r
}

// helperToken returns provider's token for a credential helper run, under the lock of the provider's
// cache file: a running daemon's (told, on a re-ask, which token the caller got) or this user's cache's
// or the plugin's, refreshed on a re-ask unless a re-ask refreshed it less than min_refresh_interval ago.
func helperToken(ctx context.Context, h *core.Host, pc *config.Provider, provider string, cache tokenCache, warn io.Writer) (cachedToken, error) {
	caller := callerIdentity()
	unlock, err := cache.lock(ctx, pc, pc.FetchTimeout+controlTimeout+10*time.Second)
	if err != nil {
		return cachedToken{}, err
	}
	defer unlock()
	rec := cache.readRecord(pc)
	reasked := ""
	if rec.asked(caller) {
		reasked = rec.Token
	}
	ct, answered, err := askControlRejected(ctx, h.Config(), provider, reasked, warn)
	if err != nil {
		return cachedToken{}, err
	}
	if !answered {
		if ct, err = localHelperToken(ctx, h, pc, provider, cache, &rec, reasked); err != nil {
			return cachedToken{}, err
		}
	}
	rec.served(fingerprint(ct.Token.Value), caller)
	if err := cache.update(pc, map[string]any{"helper": rec}); err != nil {
		hostapi.Of(h).Logger().Debug("the helper record could not be kept; the next run counts as a first ask", "provider", provider, "error", err.Error())
	}
	return ct, nil
}

// localHelperToken is helperToken without a daemon: the cached token, else the plugin's; when it is the
// one reasked names, the plugin's Refresh of it unless rec throttles that. The caller holds the lock.
func localHelperToken(ctx context.Context, h *core.Host, pc *config.Provider, provider string, cache tokenCache, rec *helperRecord, reasked string) (cachedToken, error) {
	now := time.Now()
	ct, hit := cache.get(pc, now)
	if !hit {
		var err error
		if ct, err = fetchAndCacheWith(ctx, h, pc, provider, cache, func(ctx context.Context) (sdk.Token, error) {
			return providerToken(ctx, h, provider)
		}, cache.putLocked); err != nil {
			return cachedToken{}, err
		}
	}
	if reasked == "" || fingerprint(ct.Token.Value) != reasked || rec.throttled(pc.MinRefreshInterval, now) {
		return ct, nil
	}
	rejected := ct.Token
	fresh, err := fetchAndCacheWith(ctx, h, pc, provider, cache, func(ctx context.Context) (sdk.Token, error) {
		tok, _, err := hostapi.Of(h).Rejected(ctx, provider, rejected)
		return tok, err
	}, cache.putLocked)
	if err != nil {
		return cachedToken{}, err
	}
	rec.RefreshedAt = now
	return fresh, nil
}
