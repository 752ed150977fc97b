package core_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// fleetBackend is a store backend registered by this file, as a package outside tokenhost registers one:
// the hosts that open it with one url share one in-memory store, and each open is recorded.
const fleetBackend = "memory-fleet-test"

var fleetMem = struct {
	once   sync.Once
	mu     sync.Mutex
	stores map[string]store.Store
	opened []store.Config
	runs   int // each run of a test gets its own url, so -count=N starts from an empty store
}{stores: map[string]store.Store{}}

// registerFleetBackend registers fleetBackend once.
func registerFleetBackend() {
	fleetMem.once.Do(func() {
		store.Register(fleetBackend, func(cfg store.Config) (store.Store, error) {
			fleetMem.mu.Lock()
			defer fleetMem.mu.Unlock()
			fleetMem.opened = append(fleetMem.opened, cfg)
			if fleetMem.stores[cfg.URL] == nil {
				fleetMem.stores[cfg.URL] = store.NewMemory()
			}
			return keptOpen{fleetMem.stores[cfg.URL]}, nil
		})
	})
}

// keptOpen leaves the shared in-memory store open when one host closes.
type keptOpen struct{ store.Store }

func (keptOpen) Close() error { return nil }

// TestFleetOnARegisteredBackend: a store backend that tokenhost does not know, registered by the program,
// is configured in YAML like redis: the configuration accepts its name, providers share by default, each
// host opens it with the configured url, prefix and timeouts, and three hosts fetch one token, which the
// backend holds sealed under a keyed name.
func TestFleetOnARegisteredBackend(t *testing.T) {
	registerFleetBackend()
	key, _ := seal.NewKey()
	fleetMem.mu.Lock()
	fleetMem.runs++
	url := fmt.Sprintf("mem://%s-%d", t.Name(), fleetMem.runs)
	fleetMem.mu.Unlock()
	yaml := `
store:
  backend: ` + fleetBackend + `
  url: ` + url + `
  key_prefix: "fleet-a:"
  encryption_key_env: FLEET_KEY
  timeout: 250ms
providers:
  p:
    plugin: ./p-plugin
    upstream: https://upstream.example
`
	idp := &countingIdP{life: time.Hour}
	var hosts []*core.Host
	for range 3 {
		cfg, err := config.Parse([]byte(yaml), "fleet.yaml", config.Sources{Builtins: core.Builtins(), Environ: []string{"FLEET_KEY=" + key}})
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.Provider("p").Shared {
			t.Fatalf("with backend %s, shared defaults to false; want true", fleetBackend)
		}
		h, err := core.Open(context.Background(), core.Options{Config: cfg, InProcess: map[string]sdk.Source{"p": idp}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		if !h.StoreStatus().Configured {
			t.Fatal("the host shares through no store")
		}
		hosts = append(hosts, h)
	}
	if seen := tokensAtOnce(t, hosts); idp.fetches.Load() != 1 || len(seen) != 1 {
		t.Fatalf("3 hosts on %s: %d IdP fetches, %d distinct tokens; want 1 and 1", fleetBackend, idp.fetches.Load(), len(seen))
	}
	fleetMem.mu.Lock()
	var opened []store.Config
	for _, c := range fleetMem.opened {
		if c.URL == url {
			opened = append(opened, c)
		}
	}
	raw := fleetMem.stores[url]
	fleetMem.mu.Unlock()
	if len(opened) != 3 {
		t.Fatalf("the backend was opened %d times with url %s; want once per host", len(opened), url)
	}
	for _, c := range opened {
		if c.KeyPrefix != "fleet-a:" || c.OpTimeout != 250*time.Millisecond || c.DialTimeout != config.DefaultStoreDialTimeout {
			t.Fatalf("the backend was opened with prefix %q, timeouts %s and %s; want the configured ones", c.KeyPrefix, c.OpTimeout, c.DialTimeout)
		}
	}
	kr, _ := seal.ParseKeys(key)
	it, err := raw.Get(storetest.Ctx(t), kr.Name("p/access-token"))
	if err != nil || it.Rev == "" || bytes.Contains(it.Value, []byte("tok-1")) {
		t.Fatalf("under the token's keyed name the backend holds %d bytes (%v); want the token, sealed", len(it.Value), err)
	}
}

// TestOpenUnknownStoreBackend: the configuration accepts any backend name, and opening a host with one
// that no package registered fails, naming the backends there are and the likely intended one.
func TestOpenUnknownStoreBackend(t *testing.T) {
	key, _ := seal.NewKey()
	cfg, err := config.Parse([]byte("store: {backend: rediss, url: \"redis://127.0.0.1:1\", encryption_key_env: K}\n"), "fleet.yaml",
		config.Sources{Builtins: core.Builtins(), Environ: []string{"K=" + key}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = core.Open(context.Background(), core.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	for _, want := range []string{`store backend "rediss" is not available`, fmt.Sprintf("(available: %v)", store.Backends()), `(did you mean "redis"?)`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Open with backend rediss = %v; want an error containing %q", err, want)
		}
	}
}
