package sdk

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"
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
func overBroker(t *testing.T, src Source) Source {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &GRPCPlugin{Impl: src}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(Source)
}

func TestStorageIsServedOverTheBroker(t *testing.T) {
	ctx := context.Background()
	plug := &storing{}
	host := newMemStorage()
	info, err := ConfigureWith(ctx, overBroker(t, plug), nil, host)
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
	if _, err := ConfigureWith(ctx, overBroker(t, plug), nil, host); err != nil {
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
	info, err := ConfigureWith(ctx, overBroker(t, plug), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.UsesStorage || plug.st != nil {
		t.Fatalf("without an offer: UsesStorage = %v, storage %v", info.UsesStorage, plug.st)
	}
	// A source that does not use storage never reports it, in process or not.
	if info, _ := ConfigureWith(ctx, &scripted{}, nil, newMemStorage()); info.UsesStorage {
		t.Fatal("a Source without UseStorage reported UsesStorage")
	}
	inproc := &storing{}
	if info, _ := ConfigureWith(ctx, inproc, nil, newMemStorage()); !info.UsesStorage || inproc.st == nil {
		t.Fatal("an in-process StorageUser was not handed the storage")
	}
}
