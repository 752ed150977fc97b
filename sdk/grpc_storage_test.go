package sdk

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
)

// memStorage is a Storage in memory whose revisions count writes; fail, when set, fails every call.
type memStorage struct {
	mu   sync.Mutex
	vals map[string][]byte
	revs map[string]int
	keys []string // every key asked for, in order
	fail error
}

func newMemStorage() *memStorage {
	return &memStorage{vals: map[string][]byte{}, revs: map[string]int{}}
}

func (m *memStorage) rev(key string) string {
	if _, ok := m.vals[key]; !ok {
		return ""
	}
	return strconv.Itoa(m.revs[key])
}

func (m *memStorage) Get(_ context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, key)
	if m.fail != nil {
		return nil, "", m.fail
	}
	return m.vals[key], m.rev(key), nil
}

func (m *memStorage) CompareAndSet(_ context.Context, key, rev string, value []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, key)
	if m.fail != nil {
		return false, m.fail
	}
	if m.rev(key) != rev {
		return false, nil
	}
	m.vals[key] = value
	m.revs[key]++
	return true, nil
}

func (m *memStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, key)
	if m.fail != nil {
		return m.fail
	}
	delete(m.vals, key)
	return nil
}

// storing is a Source that keeps a counter in the storage it is offered.
type storing struct {
	scripted
	st Storage
}

func (s *storing) UseStorage(st Storage) { s.st = st }

func (s *storing) Configure(ctx context.Context, o map[string]any) (Info, error) {
	info, err := s.scripted.Configure(ctx, o)
	info.UsesStorage = s.st != nil
	return info, err
}

// overBroker returns the host side of src served through go-plugin's real gRPC plumbing, broker included.
func overBroker(t testing.TB, src Source) Source {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{pluginrpc.PluginName: &pluginrpc.Plugin{NewServer: serverFor(src)}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginrpc.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(Source)
}

// offering configures the host side of a plugin as a host of a fleet does: storage first, then Configure.
func offering(ctx context.Context, host Source, st Storage) (Info, error) {
	host.(StorageUser).UseStorage(st)
	return host.Configure(ctx, nil)
}

func TestStorageIsServedOverTheBroker(t *testing.T) {
	ctx := context.Background()
	plug := &storing{}
	host := newMemStorage()
	info, err := offering(ctx, overBroker(t, plug), host)
	if err != nil {
		t.Fatal(err)
	}
	if !info.UsesStorage || plug.st == nil {
		t.Fatalf("UsesStorage = %v, plugin storage %v: want the storage handed over", info.UsesStorage, plug.st)
	}
	st := plug.st
	if v, rev, err := st.Get(ctx, "signin"); err != nil || v != nil || rev != "" {
		t.Fatalf("Get of an absent key = %q, %q, %v", v, rev, err)
	}
	if ok, err := st.CompareAndSet(ctx, "signin", "", []byte("one")); err != nil || !ok {
		t.Fatalf("first CompareAndSet = %v, %v", ok, err)
	}
	v, rev, err := st.Get(ctx, "signin")
	if err != nil || string(v) != "one" || rev == "" {
		t.Fatalf("Get = %q, %q, %v", v, rev, err)
	}
	if ok, err := st.CompareAndSet(ctx, "signin", "", []byte("two")); err != nil || ok {
		t.Fatalf("CompareAndSet on a stale revision = %v, %v; want refused", ok, err)
	}
	if ok, err := st.CompareAndSet(ctx, "signin", rev, []byte("two")); err != nil || !ok {
		t.Fatalf("CompareAndSet on the current revision = %v, %v", ok, err)
	}
	if err := st.Delete(ctx, "signin"); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := st.Get(ctx, "signin"); v != nil {
		t.Fatalf("after Delete Get = %q", v)
	}
}

func TestStorageErrorsKeepTheirKind(t *testing.T) {
	ctx := context.Background()
	plug := &storing{}
	host := newMemStorage()
	host.fail = Unavailable("the fleet store is down")
	if _, err := offering(ctx, overBroker(t, plug), host); err != nil {
		t.Fatal(err)
	}
	_, _, err := plug.st.Get(ctx, "signin")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnavailable || e.Message != "the fleet store is down" {
		t.Fatalf("Get error = %#v; want the host's Unavailable, message intact", err)
	}
	if _, _, err := plug.st.Get(ctx, "Bad/Key"); !errors.As(err, &e) || e.Kind != KindInternal {
		t.Fatalf("a malformed key = %v; want Internal", err)
	}
	for _, k := range host.keys {
		if k == "Bad/Key" {
			t.Fatal("a malformed key reached the host's storage")
		}
	}
}

func TestNoStorageOfferedNoStorageUsed(t *testing.T) {
	ctx := context.Background()
	plug := &storing{}
	info, err := overBroker(t, plug).Configure(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.UsesStorage || plug.st != nil {
		t.Fatalf("without an offer: UsesStorage = %v, storage %v", info.UsesStorage, plug.st)
	}
	// A plugin that does not use storage never reports it, offered storage or not.
	if info, _ := offering(ctx, overBroker(t, &scripted{}), newMemStorage()); info.UsesStorage {
		t.Fatal("a Source without UseStorage reported UsesStorage")
	}
}

func TestCheckStorageKey(t *testing.T) {
	for _, k := range []string{"signin", "auth", "signin-1a2b.v1", "a", "0_x"} {
		if err := CheckStorageKey(k); err != nil {
			t.Errorf("%q refused: %v", k, err)
		}
	}
	for _, k := range []string{"", "Signin", "-x", ".x", "a/b", "a b", "é", strings.Repeat("a", 65)} {
		if CheckStorageKey(k) == nil {
			t.Errorf("%q accepted", k)
		}
	}
}

// BenchmarkStorageGetCAS measures the storage hop over the go-plugin broker that one rotation costs a
// plugin (a Get and a CompareAndSet against an in-memory host storage); docs/benchmarks.md quotes it.
func BenchmarkStorageGetCAS(b *testing.B) {
	ctx := context.Background()
	plug := &storing{}
	if _, err := offering(ctx, overBroker(b, plug), newMemStorage()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, rev, err := plug.st.Get(ctx, "signin")
		if err == nil {
			_, err = plug.st.CompareAndSet(ctx, "signin", rev, []byte("a rotated sign-in of about this size"))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
