package store_test

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// sharedMemory is a backend these tests register: every Open with one URL gets the same in-memory store,
// as the hosts of a fleet reach one server.
const sharedMemory = "shared-memory-test"

var (
	memMu sync.Mutex
	mems  = map[string]store.Store{}
)

func init() {
	store.Register(sharedMemory, func(cfg store.Config) (store.Store, error) {
		return unclosed{memory(cfg.URL)}, nil
	})
}

// memory returns the in-memory store behind url.
func memory(url string) store.Store {
	memMu.Lock()
	defer memMu.Unlock()
	if mems[url] == nil {
		mems[url] = store.NewMemory()
	}
	return mems[url]
}

// unclosed leaves the shared store open when one host closes.
type unclosed struct{ store.Store }

func (unclosed) Close() error { return nil }

// A backend registered by another package is listed, opened by name, and sealed by Open: two hosts with
// one key share a value, and the backend holds it under a keyed name, encrypted.
func TestRegisteredBackendIsSealed(t *testing.T) {
	if b := store.Backends(); !slices.Contains(b, sharedMemory) || !slices.Contains(b, "local") {
		t.Fatalf("Backends() = %v; want local and %s", b, sharedMemory)
	}
	if err := store.Available(sharedMemory); err != nil {
		t.Fatal(err)
	}
	ctx := storetest.Ctx(t)
	key, _ := seal.NewKey()
	var hosts []store.Store
	for range 2 {
		s, err := store.Open(store.Config{Backend: sharedMemory, URL: t.Name(), Keys: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		hosts = append(hosts, s)
	}
	const secret = "SECRET-ACCESS-TOKEN"
	if err := hosts[0].Set(ctx, "p/access-token", []byte(secret), time.Minute); err != nil {
		t.Fatal(err)
	}
	if it, err := hosts[1].Get(ctx, "p/access-token"); err != nil || string(it.Value) != secret {
		t.Fatalf("the other host read %q, %v; want the value", it.Value, err)
	}
	raw := memory(t.Name())
	if it, err := raw.Get(ctx, "p/access-token"); err != nil || it.Rev != "" {
		t.Fatalf("the backend holds the logical name (%v); want a keyed one", err)
	}
	kr, _ := seal.ParseKeys(key)
	it, err := raw.Get(ctx, kr.Name("p/access-token"))
	if err != nil || it.Rev == "" || bytes.Contains(it.Value, []byte(secret)) {
		t.Fatalf("under the keyed name the backend holds %d bytes (%v); want the value, sealed", len(it.Value), err)
	}
}

// Register refuses an empty name, a nil open function and a name registered twice.
func TestRegisterRefuses(t *testing.T) {
	open := func(store.Config) (store.Store, error) { return store.NewMemory(), nil }
	for name, call := range map[string]func(){
		"empty name":  func() { store.Register("", open) },
		"nil open":    func() { store.Register("nil-open-test", nil) },
		"twice":       func() { store.Register(sharedMemory, open) },
		"local again": func() { store.Register("local", open) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "store.Register: ") {
					t.Errorf("Register with %s: panic %v; want store.Register's", name, r)
				}
			}()
			call()
		}()
	}
}
