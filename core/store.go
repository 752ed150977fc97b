package core

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/store/seal"
)

// Store is the memory a host shares with the other hosts of a fleet: values with an expiry, compare-and-
// set, leases with fencing values, and waiting for a value to change. Keys are logical names of the form
// "provider/name". Every method honours ctx and returns within the store's operation timeout; a store that
// cannot be reached is an error, never a hang. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the item at key; an absent or expired key is an Item with an empty Rev and no error.
	Get(ctx context.Context, key string) (Item, error)
	// Set stores value at key for ttl (0: no expiry) and wakes the key's waiters.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// CompareAndSet stores value at key only when the key's revision is still rev ("" means absent), and
	// reports whether it did.
	CompareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes key and wakes its waiters; deleting an absent key is no error.
	Delete(ctx context.Context, key string) error
	// Acquire takes the lease named key for ttl unless another holder has it; ok is false when it is held.
	// A lease whose holder dies runs out after ttl and can then be taken again.
	Acquire(ctx context.Context, key string, ttl time.Duration) (lease Lease, ok bool, err error)
	// Release gives a lease back early; releasing a lease that ran out (or was taken over) is no error.
	Release(ctx context.Context, lease Lease) error
	// Renew extends a lease its holder still holds to ttl from now, and reports whether it did; false means
	// the lease ran out or another holder has it, and that the caller holds it no longer.
	Renew(ctx context.Context, lease Lease, ttl time.Duration) (bool, error)
	// CompareAndSetFenced is CompareAndSet for a write made under lease: it stores nothing, and fails with
	// an error wrapping ErrLeaseLost, unless lease is still held by its holder and no newer lease of its
	// name was issued (its fence is still the latest). The check and the write are one step, except where
	// a backend says otherwise (the redis backend on a Redis Cluster).
	CompareAndSetFenced(ctx context.Context, lease Lease, key, rev string, value []byte, ttl time.Duration) (bool, error)
	// Wait blocks until the revision of key differs from rev, and returns the item then; ctx bounds it.
	Wait(ctx context.Context, key, rev string) (Item, error)
	// Close releases the store's connections.
	Close() error
}

// Item is a stored value and its revision.
type Item struct {
	// Value is the stored value; nil when the key is absent.
	Value []byte
	// Rev identifies this version of the value for CompareAndSet and Wait; "" means the key is absent.
	Rev string
}

// Lease is a held lease.
type Lease struct {
	// Key is the lease's name.
	Key string
	// Holder is a random id that only this holder knows; Release compares it.
	Holder string
	// Fence increases with every acquisition of the lease, so a write made under an older lease can be told
	// from one made under a newer one.
	Fence int64
}

// StoreConfig says which store to open and how.
type StoreConfig struct {
	// Backend is a registered backend name: "local", or "redis" when store/redisstore is linked in.
	Backend string
	// URL is the backend's address (redis://, rediss://, redis-sentinel:// ... for redis).
	URL string
	// KeyPrefix starts every key the store writes, so several fleets can share one server.
	KeyPrefix string
	// Keys are the encryption keys in standard base64, the current one first; required for every backend
	// but local.
	Keys string
	// DialTimeout bounds connecting to the backend.
	DialTimeout time.Duration
	// OpTimeout bounds one operation (Wait excepted, which its context bounds).
	OpTimeout time.Duration
}

// ErrStoreUnavailable is wrapped by store errors that mean the backend cannot be reached or did not
// answer in time; a host treats them as "work alone for now".
var ErrStoreUnavailable = errors.New("the shared store is unavailable")

// ErrLeaseLost is wrapped by the error of a write made under a lease its writer no longer holds (it ran
// out, or a newer holder took it): the write was refused so that it does not overwrite the newer holder's.
var ErrLeaseLost = errors.New("the lease was lost")

var (
	storesMu sync.RWMutex
	stores   = map[string]func(StoreConfig) (Store, error){}
)

// RegisterStore makes the store backend name available to OpenStore, in the manner of database/sql's
// drivers: a backend package calls it from its init function and a program links the backend with a blank
// import (cmd/tokenhost imports store/redisstore). It panics when name is empty, open is nil or name is
// registered twice.
func RegisterStore(name string, open func(StoreConfig) (Store, error)) {
	storesMu.Lock()
	defer storesMu.Unlock()
	if name == "" || open == nil {
		panic("core.RegisterStore: empty name or nil open function")
	}
	if _, dup := stores[name]; dup {
		panic("core.RegisterStore: store backend " + name + " registered twice")
	}
	stores[name] = open
}

// StoreBackends returns the registered store backend names, sorted.
func StoreBackends() []string {
	storesMu.RLock()
	defer storesMu.RUnlock()
	names := make([]string, 0, len(stores))
	for n := range stores {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// OpenStore opens the store cfg describes. Every backend but local needs encryption keys; its values are
// then sealed (AES-256-GCM) and its key names hashed before the backend sees them.
func OpenStore(cfg StoreConfig) (Store, error) {
	storesMu.RLock()
	open := stores[cfg.Backend]
	storesMu.RUnlock()
	if open == nil {
		hint := ""
		if cfg.Backend == "redis" {
			hint = "; this program does not link it: add a blank import of github.com/tokenhost/tokenhost/store/redisstore"
		}
		return nil, fmt.Errorf("store backend %q is not available (available: %v)%s", cfg.Backend, StoreBackends(), hint)
	}
	if cfg.Backend != "local" && cfg.Keys == "" {
		return nil, fmt.Errorf("store backend %q needs an encryption key (store.encryption_key_env or store.encryption_key_file); create one with `tokenhost store keygen`", cfg.Backend)
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultStoreOpTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultStoreOpTimeout
	}
	var kr *seal.Keyring
	if cfg.Keys != "" {
		var err error
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

// DefaultStoreOpTimeout bounds one store operation when the configuration sets no timeout.
const DefaultStoreOpTimeout = 500 * time.Millisecond

// checkKey rejects a key that is not of the form "provider/name".
func checkKey(key string) error {
	if i := strings.IndexByte(key, '/'); i <= 0 || i == len(key)-1 {
		return fmt.Errorf("store key %q must be of the form provider/name", key)
	}
	return nil
}

// StoreConfigFrom converts the configuration's store block into a StoreConfig for OpenStore.
func StoreConfigFrom(s config.Store) StoreConfig {
	return StoreConfig{Backend: s.Backend, URL: s.URL, KeyPrefix: s.KeyPrefix, Keys: s.EncryptionKeys, DialTimeout: s.DialTimeout, OpTimeout: s.Timeout}
}
