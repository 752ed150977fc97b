package sdk

import (
	"context"
)

// Storage is the key-value memory a host lends a plugin for state that must be the same on every host of
// a fleet, such as a sign-in whose refresh token rotates. The host scopes keys to the provider (a plugin
// never sees another provider's state), seals values at rest, and bounds every call by its store timeout.
// A host offers storage only where it is shared (a fleet store); elsewhere a plugin keeps its own files.
type Storage interface {
	// Get returns the value at key and its revision; an absent key is a nil value and an empty rev.
	Get(ctx context.Context, key string) (value []byte, rev string, err error)
	// CompareAndSet stores value at key only while the key's revision is still rev ("" means absent), and
	// reports whether it did; false means another host wrote first: Get again and decide anew. An error
	// of kind Unavailable means nothing was written, because the store is out of reach or because the host
	// lost the fleet's fetch lease the write was made under (another host may be refreshing): keep what
	// the write held (a rotated refresh token may be the only working one) and offer it again after a Get.
	CompareAndSet(ctx context.Context, key, rev string, value []byte) (stored bool, err error)
	// Delete removes key; deleting an absent key is no error.
	Delete(ctx context.Context, key string) error
}

// StorageUser is implemented by a Source that keeps its state in host storage when the host offers it.
// The host calls UseStorage once, before Configure, only when it offers storage; a Source that reports
// Info.UsesStorage after that keeps its state there.
type StorageUser interface {
	// UseStorage hands the Source the storage the host serves for this provider.
	UseStorage(Storage)
}

// CheckStorageKey reports whether key may name a value in host storage (1–64 characters of a–z, 0–9,
// '.', '_' and '-', starting with a letter or digit).
func CheckStorageKey(key string) error {
	ok := len(key) >= 1 && len(key) <= 64
	for i := 0; ok && i < len(key); i++ {
		c := key[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return Internal("storage key %q is not 1-64 characters of a-z, 0-9, '.', '_' and '-'", key)
	}
	return nil
}
