package config

import (
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
)

// Store is the `store` block: where a host keeps what it shares with the other hosts of a fleet.
type Store struct {
	// Backend is "local" (this process only, the default) or the name of a registered store backend that
	// a fleet shares, "redis" for one (store.Backends lists them; core checks the name when it opens the
	// store).
	Backend string
	// URL is the backend's address: for redis, redis:// or rediss:// (Sentinel and Cluster through query
	// parameters).
	URL string
	// KeyPrefix starts every key (and, for redis, channel) the store writes, so several fleets can share one
	// server.
	KeyPrefix string
	// EncryptionKeys are the resolved keys (standard base64, the current one first); a secret, never shown.
	EncryptionKeys string
	// DialTimeout bounds connecting to the store.
	DialTimeout time.Duration
	// Timeout bounds one store operation; no request waits on the store longer.
	Timeout time.Duration
}

// rawStore mirrors the store block for decoding.
type rawStore struct {
	Backend           string         `koanf:"backend"`
	URL               string         `koanf:"url"`
	KeyPrefix         *string        `koanf:"key_prefix"`
	EncryptionKeyEnv  any            `koanf:"encryption_key_env"`
	EncryptionKeyFile any            `koanf:"encryption_key_file"`
	DialTimeout       *time.Duration `koanf:"dial_timeout"`
	Timeout           *time.Duration `koanf:"timeout"`
	Unknown           map[string]any `koanf:",remain"`
}

// Store defaults.
const (
	DefaultStoreBackend     = "local"
	DefaultStoreKeyPrefix   = "tokenhost:"
	DefaultStoreDialTimeout = store.DefaultDialTimeout
	DefaultStoreTimeout     = store.DefaultOpTimeout
)

// Shared reports whether the block names a store that a fleet shares: any backend but local (or none).
func (s Store) Shared() bool { return s.Backend != "" && s.Backend != DefaultStoreBackend }

// Config returns the block as the store package's Config, for store.Open.
func (s Store) Config() store.Config {
	return store.Config{Backend: s.Backend, URL: s.URL, KeyPrefix: s.KeyPrefix, Keys: s.EncryptionKeys, DialTimeout: s.DialTimeout, OpTimeout: s.Timeout}
}

// store checks the store block; key resolution reuses the *_env / *_file rules of provider secrets.
func (d *decoder) store(r rawStore) Store {
	at := "store"
	d.unknownKeys(at, r.Unknown, knownKeys(r))
	d.noteEnvVars(r.EncryptionKeyEnv)
	s := Store{
		Backend:     DefaultStoreBackend,
		KeyPrefix:   or(r.KeyPrefix, DefaultStoreKeyPrefix),
		DialTimeout: d.positive(at+".dial_timeout", r.DialTimeout, durationText(r.DialTimeout), DefaultStoreDialTimeout),
		Timeout:     d.positive(at+".timeout", r.Timeout, durationText(r.Timeout), DefaultStoreTimeout),
	}
	if b := strings.TrimSpace(r.Backend); b != "" && !d.failed[at+".backend"] {
		s.Backend = b
	}
	if !s.Shared() {
		if r.URL != "" {
			d.p.add(at+".url", "is not used with backend: local (set store.backend to a shared backend, such as redis, for fleet mode, or remove url)")
		}
		return s
	}
	if s.Backend == "redis" {
		s.URL = d.redisURL(at, r.URL)
	} else {
		s.URL = r.URL // the backend checks it when the host opens the store
	}
	s.EncryptionKeys = d.storeKeys(at, s.Backend, r)
	return s
}

// redisURL checks the url of a redis store and returns it, or "" after adding a problem.
func (d *decoder) redisURL(at, u string) string {
	switch {
	case u == "":
		if !d.failed[at+".url"] {
			d.p.add(at+".url", "required with backend: redis: redis://host:6379, rediss://host:6380 for TLS (see docs/fleet.md for Sentinel and Cluster)")
		}
	case !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://"):
		d.p.add(at+".url", "must start with redis:// or rediss://")
	default:
		return u
	}
	return ""
}

// storeKeys resolves and checks the encryption keys every shared store requires.
func (d *decoder) storeKeys(at, backend string, r rawStore) string {
	var (
		keys string
		ok   bool
		path string
	)
	switch {
	case r.EncryptionKeyEnv != nil && r.EncryptionKeyFile != nil:
		d.p.add(at+".encryption_key_file", "conflicts with encryption_key_env; give the key one way only")
		return ""
	case r.EncryptionKeyEnv != nil:
		path = at + ".encryption_key_env"
		keys, ok = d.secretFromEnv(path, r.EncryptionKeyEnv)
	case r.EncryptionKeyFile != nil:
		path = at + ".encryption_key_file"
		keys, ok = d.secretFromFile(path, r.EncryptionKeyFile)
	default:
		d.p.add(at+".encryption_key_env", "required with backend: %s (or encryption_key_file): everything written to the store is encrypted; create a key with `tokenhost store keygen`", backend)
		return ""
	}
	if !ok {
		return ""
	}
	if _, err := seal.ParseKeys(keys); err != nil {
		d.p.add(path, "%v", err)
		return ""
	}
	return keys
}

// durationText is what a duration field held, for a message; nil when absent.
func durationText(v *time.Duration) any {
	if v == nil {
		return nil
	}
	return v.String()
}
