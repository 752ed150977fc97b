package store_test

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

func TestLocalStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.Open(store.Config{Backend: "local"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestLocalStoreSealed(t *testing.T) {
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.Open(store.Config{Backend: "local", Keys: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		cfg  store.Config
		want string
	}{
		{store.Config{Backend: sharedMemory, URL: "fleet"}, "needs an encryption key (store.encryption_key_env or store.encryption_key_file)"},
		{store.Config{Backend: "etcd"}, "not available (available: [local"},
		{store.Config{Backend: "locl"}, `(did you mean "local"?)`},
		{store.Config{Backend: "redis"}, "add a blank import of github.com/tokenhost/tokenhost/store/redisstore"},
		{store.Config{Backend: "local", Keys: "not-a-key"}, "tokenhost store keygen"},
	}
	for _, c := range cases {
		_, err := store.Open(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v; want an error containing %q", c.cfg.Backend, err, c.want)
		}
	}
}

func TestSealedStoreChecksKeyNames(t *testing.T) {
	ctx := storetest.Ctx(t)
	k1, _ := seal.NewKey()
	s, err := store.Open(store.Config{Backend: "local", Keys: k1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Set(ctx, "p/k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "noslash"); err == nil {
		t.Fatal("Get of a key without provider/ succeeded")
	}
}

// TestLocalStoreSealing runs the sealing tests with hosts sharing one local backend.
func TestLocalStoreSealing(t *testing.T) {
	storetest.RunSealed(t, func(t *testing.T) (store.Store, func(string) store.Store) {
		raw, err := store.Open(store.Config{Backend: "local"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return raw, func(keys string) store.Store {
			s, err := store.NewSealedStore(raw, keys)
			if err != nil {
				t.Fatal(err)
			}
			return s // closing it would close raw, which the other hosts share
		}
	})
}
