package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/suggest"
	"github.com/tokenhost/tokenhost/store/seal"
)

// Store is the `store` block: where a host keeps what it shares with the other hosts of a fleet.
type Store struct {
	// Backend is "local" (this process only, the default) or "redis" (fleet mode).
	Backend string
	// URL is the Redis URL (redis://, rediss://; Sentinel and Cluster through query parameters).
	URL string
	// KeyPrefix starts every Redis key and channel, so several fleets can share one Redis.
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
	DefaultStoreDialTimeout = time.Second
	DefaultStoreTimeout     = 500 * time.Millisecond
)

// storeBackends are the backends a configuration may name.
var storeBackends = []string{"local", "redis"}

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
	switch b := strings.TrimSpace(r.Backend); {
	case b == "" || d.failed[at+".backend"]:
	case b == "local" || b == "redis":
		s.Backend = b
	default:
		hint := ""
		if c := suggest.Closest(b, storeBackends); c != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", c)
		}
		d.p.add(at+".backend", "must be local or redis, got %s%s", quote(b), hint)
		return s
	}
	if s.Backend == "local" {
		if r.URL != "" {
			d.p.add(at+".url", "is only used with backend: redis (set store.backend: redis for fleet mode, or remove url)")
		}
		return s
	}
	if r.URL == "" {
		if !d.failed[at+".url"] {
			d.p.add(at+".url", "required with backend: redis: redis://host:6379, rediss://host:6380 for TLS (see docs/fleet.md for Sentinel and Cluster)")
		}
	} else if !strings.HasPrefix(r.URL, "redis://") && !strings.HasPrefix(r.URL, "rediss://") {
		d.p.add(at+".url", "must start with redis:// or rediss://")
	} else {
		s.URL = r.URL
	}
	s.EncryptionKeys = d.storeKeys(at, r)
	return s
}

// storeKeys resolves and checks the encryption keys a redis store requires.
func (d *decoder) storeKeys(at string, r rawStore) string {
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
		d.p.add(at+".encryption_key_env", "required with backend: redis (or encryption_key_file): everything written to Redis is encrypted; create a key with `tokenhost store keygen`")
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
