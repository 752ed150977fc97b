package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// hookBackend is the store backend hookedHost registers: it hands store.Open a shared raw backend whose
// compare-and-set runs a test's function first, so that a test can write between two steps of a sealed
// store's own calls.
const hookBackend = "storetest-hooked"

var (
	hookOnce sync.Once
	hookMu   sync.Mutex
	hookRaw  = map[string]store.Store{}
	hookN    int
)

// hooked is a raw backend, shared with other hosts, whose CompareAndSet calls before with the backend
// name first.
type hooked struct {
	store.Store
	before func(name string)
}

func (h *hooked) CompareAndSet(ctx context.Context, name, rev string, value []byte, ttl time.Duration) (bool, error) {
	h.before(name)
	return h.Store.CompareAndSet(ctx, name, rev, value, ttl)
}

// Close leaves the shared backend open for the other hosts.
func (h *hooked) Close() error { return nil }

// hookedHost opens a sealed store with keys over raw, as host does, except that every compare-and-set
// it makes on the backend calls before(name) first.
func hookedHost(t *testing.T, raw store.Store, keys string, before func(name string)) store.Store {
	t.Helper()
	hookOnce.Do(func() {
		store.Register(hookBackend, func(cfg store.Config) (store.Store, error) {
			hookMu.Lock()
			defer hookMu.Unlock()
			s, ok := hookRaw[cfg.URL]
			if !ok {
				return nil, fmt.Errorf("no hooked backend %q", cfg.URL)
			}
			delete(hookRaw, cfg.URL)
			return s, nil
		})
	})
	hookMu.Lock()
	hookN++
	id := fmt.Sprintf("hook-%d", hookN)
	hookRaw[id] = &hooked{Store: raw, before: before}
	hookMu.Unlock()
	s, err := store.Open(store.Config{Backend: hookBackend, URL: id, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
