package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/atomicfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// cachedToken is what `tokenhost token` keeps between invocations: the token and the headers a request
// needs with it, so a cache hit starts no plugin.
type cachedToken struct {
	Token   sdk.Token         `json:"token"`
	Headers map[string]string `json:"headers"`
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

// path returns the file of pc's tokens: named by the provider and a hash of everything that decides which
// token the plugin returns, so a changed config never reads an old token.
func (c tokenCache) path(pc *config.Provider) string {
	key, _ := json.Marshal([]any{pc.Name, pc.Plugin, pc.SHA256, pc.Upstream, pc.Header, pc.Scheme, pc.SchemeSet, pc.Options})
	sum := sha256.Sum256(key)
	return filepath.Join(c.dir, pc.Name+"-"+hex.EncodeToString(sum[:12])+".json")
}

// get returns pc's cached token when it is still good for longer than pc's refresh_before.
func (c tokenCache) get(pc *config.Provider, now time.Time) (cachedToken, bool) {
	if c.dir == "" {
		return cachedToken{}, false
	}
	data, err := os.ReadFile(c.path(pc))
	if err != nil {
		return cachedToken{}, false
	}
	var ct cachedToken
	if json.Unmarshal(data, &ct) != nil || ct.Token.Value == "" || ct.Token.Expiry.IsZero() || ct.Token.Expiry.Sub(now) <= pc.RefreshBefore {
		return cachedToken{}, false
	}
	return ct, true
}

// put keeps ct for pc when its expiry is known; a failure to write only costs the next call a fetch.
func (c tokenCache) put(pc *config.Provider, ct cachedToken) error {
	if c.dir == "" || ct.Token.Expiry.IsZero() {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(ct)
	if err != nil {
		return err
	}
	return atomicfile.Write(c.path(pc), data, nil)
}
