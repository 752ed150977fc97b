package core_test

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/storetest"
	"github.com/tokenhost/tokenhost/store/seal"
)

func TestLocalStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		s, err := core.OpenStore(core.StoreConfig{Backend: "local"})
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
	storetest.Run(t, func(t *testing.T) core.Store {
		s, err := core.OpenStore(core.StoreConfig{Backend: "local", Keys: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpenStoreErrors(t *testing.T) {
	cases := []struct {
		cfg  core.StoreConfig
		want string
	}{
		{core.StoreConfig{Backend: "redis", URL: "redis://127.0.0.1:1"}, "needs an encryption key (store.encryption_key_env or store.encryption_key_file)"},
		{core.StoreConfig{Backend: "etcd"}, "not available"},
		{core.StoreConfig{Backend: "local", Keys: "not-a-key"}, "tokenhost store keygen"},
	}
	for _, c := range cases {
		_, err := core.OpenStore(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenStore(%s) = %v; want an error containing %q", c.cfg.Backend, err, c.want)
		}
	}
}

func TestSealedStoreChecksKeyNames(t *testing.T) {
	ctx := storetest.Ctx(t)
	k1, _ := seal.NewKey()
	s, err := core.OpenStore(core.StoreConfig{Backend: "local", Keys: k1})
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
	storetest.RunSealed(t, func(t *testing.T) (core.Store, func(string) core.Store) {
		raw, err := core.OpenStore(core.StoreConfig{Backend: "local"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return raw, func(keys string) core.Store {
			s, err := core.NewSealedStore(raw, keys)
			if err != nil {
				t.Fatal(err)
			}
			return s // closing it would close raw, which the other hosts share
		}
	})
}
