package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/internal/tokenrule"
	"github.com/tokenhost/tokenhost/sdk"
)

// cacheKeyHex is how many hex digits of the configuration's hash name a cache file.
const cacheKeyHex = 24

// cacheLockWait bounds how long a plain `tokenhost token` waits for the cache file's lock to store a token.
const cacheLockWait = 5 * time.Second

// cachedToken is what `tokenhost token` keeps between invocations: the token and the headers a request
// needs with it, so a cache hit starts no plugin, and what decides whether it may still be used.
type cachedToken struct {
	Token   sdk.Token         `json:"token"`
	Headers map[string]string `json:"headers"`
	// Issued is when the token was fetched: its life, which the due rule halves, starts there.
	Issued time.Time `json:"issued,omitzero"`
	// Identity is what, beside the configuration, decided whose token it is; Sum is their identitySum,
	// keyed by Salt (hex), taken before the fetch, so that a change during the fetch also counts.
	Identity []identityRef `json:"identity,omitempty"`
	Salt     string        `json:"salt,omitempty"`
	Sum      string        `json:"sum,omitempty"`
	// Due is when a running daemon will replace the token (its control reply only; a cache file has Issued).
	Due time.Time `json:"due,omitzero"`
}

// due returns when ct is due under the token rule for pc: the daemon's word, else from Issued; the expiry
// when neither is known or that time has passed (the daemon is replacing the token); zero when the
// token has no known expiry.
func (ct cachedToken) due(pc *config.Provider, now time.Time) time.Time {
	at := ct.Due
	if at.IsZero() && !ct.Issued.IsZero() && pc != nil {
		at = tokenrule.RefreshAt(ct.Token, ct.Issued, pc.RefreshBefore)
	}
	if at.IsZero() || !at.After(now) {
		at = ct.Token.Expiry
	}
	return at
}

// tokenCache is the 0600 files under $XDG_CACHE_HOME/tokenhost/tokens/ (directory 0700), one per provider
// and effective configuration, written atomically. A token is kept only when its expiry is known.
type tokenCache struct{ dir string }

// newTokenCache returns the cache at its standard place, or one whose methods do nothing when there is no
// cache directory (no HOME).
func newTokenCache() tokenCache {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return tokenCache{}
		}
		base = filepath.Join(home, ".cache")
	}
	return tokenCache{dir: filepath.Join(base, "tokenhost", "tokens")}
}

// path returns the file of pc's tokens: named by the provider and a hash of everything in the
// configuration that decides which token the plugin returns, so a changed config never reads an old token.
func (c tokenCache) path(pc *config.Provider) string {
	key, _ := json.Marshal([]any{pc.Name, pc.Plugin, pc.SHA256, pc.Upstream, pc.Header, pc.Scheme, pc.SchemeSet, pc.Env, pc.Options})
	sum := sha256.Sum256(key)
	return filepath.Join(c.dir, pc.Name+"-"+hex.EncodeToString(sum[:cacheKeyHex/2])+".json")
}

// get returns pc's cached token while the wrapper would still use it (tokenrule.Due) and nothing it
// depends on (ct.Identity) has changed since it was fetched.
func (c tokenCache) get(pc *config.Provider, now time.Time) (cachedToken, bool) {
	if c.dir == "" || c.checkDirs() != nil {
		return cachedToken{}, false
	}
	data, err := os.ReadFile(c.path(pc))
	if err != nil {
		return cachedToken{}, false
	}
	var ct cachedToken
	if json.Unmarshal(data, &ct) != nil || ct.Token.Value == "" || ct.Token.Expiry.IsZero() || ct.Issued.IsZero() ||
		ct.Issued.After(now) || tokenrule.Due(ct.Token, ct.Issued, pc.RefreshBefore, now) {
		return cachedToken{}, false
	}
	salt, err := hex.DecodeString(ct.Salt)
	if err != nil || len(salt) == 0 || len(ct.Identity) > maxIdentitySources || identitySum(ct.Identity, salt, os.Environ()) != ct.Sum {
		return cachedToken{}, false
	}
	return ct, true
}

// put keeps ct for pc when its expiry is known, under the file's lock, keeping the file's other fields;
// a failure to write only costs the next call a fetch.
func (c tokenCache) put(pc *config.Provider, ct cachedToken) error {
	if c.dir == "" || ct.Token.Expiry.IsZero() {
		return nil
	}
	unlock, err := c.lock(context.Background(), pc, cacheLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	return c.putLocked(pc, ct)
}

// putLocked is put for a caller that holds the file's lock.
func (c tokenCache) putLocked(pc *config.Provider, ct cachedToken) error {
	if c.dir == "" || ct.Token.Expiry.IsZero() {
		return nil
	}
	return c.update(pc, tokenFields(ct))
}

// forget removes every cached token of the provider name, whatever configuration cached it: after a
// sign-in or a sign-out no call may print a token of the identity before.
func (c tokenCache) forget(name string) error {
	if c.dir == "" {
		return nil
	}
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("provider %s: cannot read the token cache %s to remove its cached tokens: %w; delete its %s-*.json files there", name, c.dir, err, name)
	}
	for _, e := range entries {
		if !cacheFileOf(e.Name(), name) {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("provider %s: cannot remove the cached token %s: %w; delete it, or the next `tokenhost token %s` may print the token of the previous sign-in", name, filepath.Join(c.dir, e.Name()), err, name)
		}
	}
	return nil
}

// cacheFileOf reports whether file is a cache file of provider name: name, "-", the configuration's hash,
// ".json" (so provider corp does not claim corp-eu's files).
func cacheFileOf(file, name string) bool {
	rest, ok := strings.CutPrefix(file, name+"-")
	if !ok {
		return false
	}
	key, ok := strings.CutSuffix(rest, ".json")
	if !ok || len(key) != cacheKeyHex {
		return false
	}
	_, err := hex.DecodeString(key)
	return err == nil
}

// fetchAndCache asks provider's plugin for a token and, unless the plugin forbids it, caches it with what
// its identity depends on, fingerprinted before the fetch.
func fetchAndCache(ctx context.Context, h *core.Host, pc *config.Provider, provider string, cache tokenCache) (cachedToken, error) {
	return fetchAndCacheWith(ctx, h, pc, provider, cache, func(ctx context.Context) (sdk.Token, error) {
		return providerToken(ctx, h, provider)
	}, cache.put)
}

// fetchAndCacheWith is fetchAndCache with the token from fetch, stored by put.
func fetchAndCacheWith(ctx context.Context, h *core.Host, pc *config.Provider, provider string, cache tokenCache,
	fetch func(context.Context) (sdk.Token, error), put func(*config.Provider, cachedToken) error) (cachedToken, error) {
	ep, err := hostapi.Of(h).Endpoint(ctx, provider) // starts the plugin: its Info names what its identity depends on
	if err != nil {
		return cachedToken{}, err
	}
	var ct cachedToken
	info, started := providerInfo(h, provider)
	cacheable := pc != nil && started && !info.NoTokenCache
	if cacheable {
		var ok bool
		ct.Identity, ok = identityRefs(info, pc)
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		ct.Salt, ct.Sum, cacheable = hex.EncodeToString(salt), identitySum(ct.Identity, salt, os.Environ()), ok
	}
	tok, err := fetch(ctx)
	if err != nil {
		return cachedToken{}, err
	}
	ct.Token, ct.Headers, ct.Issued = tok, ep.Headers(tok), time.Now()
	if cacheable {
		if err := put(pc, ct); err != nil {
			hostapi.Of(h).Logger().Debug("the token could not be cached for the next call", "provider", provider, "error", err.Error())
		}
	}
	return ct, nil
}

// providerToken returns provider's token from the host's shared cache, through the provider's handle.
func providerToken(ctx context.Context, h *core.Host, provider string) (sdk.Token, error) {
	p, err := h.Provider(provider)
	if err != nil {
		return sdk.Token{}, err
	}
	return p.Token(ctx)
}

// providerInfo returns what provider's plugin reported about itself; started is false before it did.
func providerInfo(h *core.Host, provider string) (info sdk.Info, started bool) {
	for _, st := range h.Status() {
		if st.Name == provider {
			return st.Info, st.Info.Name != ""
		}
	}
	return sdk.Info{}, false
}
