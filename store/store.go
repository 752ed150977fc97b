// Package store is the memory the hosts of a fleet share: the backend interface (Store), a registry of
// backends in the manner of database/sql's drivers (Register, Open, Backends), the in-memory "local"
// backend, and the sealing every backend but local gets from Open (values encrypted, key names hashed,
// versions, tombstones; see store/seal). A backend package registers itself from its init function and a
// program links it with a blank import (store/redisstore is the "redis" backend); store/storetest is the
// conformance suite a backend's tests run. This package imports neither the host (core) nor any backend.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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

// Config says which store to open and how.
type Config struct {
	// Backend is a registered backend name (Backends): "local", "redis" when store/redisstore is linked in,
	// or any other a linked package registered.
	Backend string
	// URL is the backend's address, which its open function checks (redis:// or rediss:// for redis).
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

// ErrUnavailable is wrapped by store errors that mean the backend cannot be reached or did not
// answer in time; a host treats them as "work alone for now".
var ErrUnavailable = errors.New("the shared store is unavailable")

// ErrLeaseLost is wrapped by the error of a write made under a lease its writer no longer holds (it ran
// out, or a newer holder took it): the write was refused so that it does not overwrite the newer holder's.
var ErrLeaseLost = errors.New("the lease was lost")

// Default timeouts, for a Config that sets none.
const (
	// DefaultOpTimeout bounds one store operation.
	DefaultOpTimeout = 500 * time.Millisecond
	// DefaultDialTimeout bounds connecting to the backend.
	DefaultDialTimeout = time.Second
)

// checkKey rejects a key that is not of the form "provider/name".
func checkKey(key string) error {
	if i := strings.IndexByte(key, '/'); i <= 0 || i == len(key)-1 {
		return fmt.Errorf("store key %q must be of the form provider/name", key)
	}
	return nil
}
