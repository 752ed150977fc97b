package sdktest

import (
	"context"
	"strconv"
	"sync"

	"github.com/tokenhost/tokenhost/sdk"
)

// Storage is an sdk.Storage in memory for tests of plugins that keep state in host storage: several
// Sources handed the same Storage behave as plugins on several hosts of one fleet. Set Fail to make every
// call fail as an unreachable fleet store does.
type Storage struct {
	mu   sync.Mutex
	vals map[string][]byte
	revs map[string]int
	// Fail, when not nil, is returned by every call (e.g. sdk.Unavailable("store down")).
	Fail error
	// Writes counts successful CompareAndSet calls.
	Writes int
}

// NewStorage returns an empty Storage.
func NewStorage() *Storage { return &Storage{vals: map[string][]byte{}, revs: map[string]int{}} }

func (m *Storage) rev(key string) string {
	if _, ok := m.vals[key]; !ok {
		return ""
	}
	return strconv.Itoa(m.revs[key])
}

// Get implements sdk.Storage.
func (m *Storage) Get(_ context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(key); err != nil {
		return nil, "", err
	}
	return append([]byte(nil), m.vals[key]...), m.rev(key), nil
}

// CompareAndSet implements sdk.Storage.
func (m *Storage) CompareAndSet(_ context.Context, key, rev string, value []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(key); err != nil {
		return false, err
	}
	if m.rev(key) != rev {
		return false, nil
	}
	m.vals[key] = append([]byte(nil), value...)
	m.revs[key]++
	m.Writes++
	return true, nil
}

// Delete implements sdk.Storage.
func (m *Storage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(key); err != nil {
		return err
	}
	delete(m.vals, key)
	m.revs[key]++
	return nil
}

// SetFail sets Fail under the Storage's lock, for tests that fail the store while plugins use it.
func (m *Storage) SetFail(err error) {
	m.mu.Lock()
	m.Fail = err
	m.mu.Unlock()
}

func (m *Storage) check(key string) error {
	if err := sdk.CheckStorageKey(key); err != nil {
		return err
	}
	return m.Fail
}

var _ sdk.Storage = (*Storage)(nil)
