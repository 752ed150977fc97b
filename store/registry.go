package store

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/tokenhost/tokenhost/internal/suggest"
	"github.com/tokenhost/tokenhost/store/seal"
)

var (
	backendsMu sync.RWMutex
	backends   = map[string]func(Config) (Store, error){}
)

// Register makes the backend name available to Open, in the manner of database/sql's drivers: a backend
// package calls it from its init function and a program links the backend with a blank import
// (cmd/tokenhost imports store/redisstore). It panics when name is empty, open is nil or name is
// registered twice.
func Register(name string, open func(Config) (Store, error)) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if name == "" || open == nil {
		panic("store.Register: empty name or nil open function")
	}
	if _, dup := backends[name]; dup {
		panic("store.Register: store backend " + name + " registered twice")
	}
	backends[name] = open
}

// Backends returns the registered backend names, sorted.
func Backends() []string {
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	return slices.Sorted(maps.Keys(backends))
}

// Available returns nil when the backend name is registered, else an error that lists the registered
// backends and says how to link the missing one.
func Available(name string) error {
	_, err := lookup(name)
	return err
}

// lookup returns the open function of the backend name, or Available's error.
func lookup(name string) (func(Config) (Store, error), error) {
	backendsMu.RLock()
	open := backends[name]
	backendsMu.RUnlock()
	if open != nil {
		return open, nil
	}
	hint := ""
	if name == "redis" {
		hint = "; this program does not link it: add a blank import of github.com/tokenhost/tokenhost/store/redisstore"
	} else if c := suggest.Closest(name, Backends()); c != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", c)
	}
	return nil, fmt.Errorf("store backend %q is not available (available: %v)%s", name, Backends(), hint)
}

// Open opens the store cfg describes. Every backend but local needs encryption keys; its values are then
// sealed (AES-256-GCM) and its key names hashed before the backend sees them.
func Open(cfg Config) (Store, error) {
	open, err := lookup(cfg.Backend)
	if err != nil {
		return nil, err
	}
	if cfg.Backend != "local" && cfg.Keys == "" {
		return nil, fmt.Errorf("store backend %q needs an encryption key (store.encryption_key_env or store.encryption_key_file); create one with `tokenhost store keygen`", cfg.Backend)
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	var kr *seal.Keyring
	if cfg.Keys != "" {
		if kr, err = seal.ParseKeys(cfg.Keys); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s, err := open(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening the %s store: %w", cfg.Backend, err)
	}
	if kr != nil {
		s = newSealedStore(s, kr)
	}
	return s, nil
}
