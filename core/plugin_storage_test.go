package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
)

// downStore is a store.Store whose every call fails as an unreachable backend does.
type downStore struct{ store.Store }

func (downStore) Get(context.Context, string) (store.Item, error) {
	return store.Item{}, fmt.Errorf("dial tcp 127.0.0.1:1: connection refused: %w", store.ErrUnavailable)
}

func TestPluginStorageIsScopedToItsProvider(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	corp := &pluginStorage{provider: "corp", store: st}
	other := &pluginStorage{provider: "other", store: st}
	if ok, err := corp.CompareAndSet(ctx, "signin", "", []byte("corp's")); err != nil || !ok {
		t.Fatalf("CompareAndSet = %v, %v", ok, err)
	}
	if v, rev, err := other.Get(ctx, "signin"); err != nil || v != nil || rev != "" {
		t.Fatalf("another provider read %q (rev %q, %v); want nothing", v, rev, err)
	}
	it, err := st.Get(ctx, "corp/plugin/signin")
	if err != nil || string(it.Value) != "corp's" {
		t.Fatalf("store holds %q, %v under corp/plugin/signin", it.Value, err)
	}
	v, rev, _ := corp.Get(ctx, "signin")
	if ok, _ := corp.CompareAndSet(ctx, "signin", "", []byte("x")); ok {
		t.Fatal("CompareAndSet on absent succeeded over an existing value")
	}
	if ok, _ := corp.CompareAndSet(ctx, "signin", rev, append(v, '!')); !ok {
		t.Fatal("CompareAndSet on the current revision failed")
	}
	if err := corp.Delete(ctx, "signin"); err != nil {
		t.Fatal(err)
	}
	if it, _ := st.Get(ctx, "corp/plugin/signin"); it.Rev != "" {
		t.Fatal("Delete left the value")
	}
}

// timedOutStore fails as a Redis store whose call ran out of store.timeout: unavailable and a deadline.
type timedOutStore struct{ store.Store }

func (timedOutStore) Get(context.Context, string) (store.Item, error) {
	return store.Item{}, fmt.Errorf("redis GET x: %w: %w", store.ErrUnavailable, context.DeadlineExceeded)
}

func TestPluginStorageUnavailableNamesTheProvider(t *testing.T) {
	_, _, err := (&pluginStorage{provider: "corp", store: timedOutStore{}}).Get(context.Background(), "signin")
	if !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Fatalf("a store call that ran out of store.timeout: %v; want Unavailable, not the bare deadline", err)
	}
	_, _, err = (&pluginStorage{provider: "corp", store: downStore{}}).Get(context.Background(), "signin")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Kind != sdk.KindUnavailable {
		t.Fatalf("error = %v; want Unavailable", err)
	}
	for _, want := range []string{"provider corp", "shared store", "unavailable"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
}

// claimsStorage is a Source that reports UsesStorage whatever it was offered, and keeps what UseStorage
// hands it when it is a StorageUser.
type claimsStorage struct{ handed sdk.Storage }

func (s *claimsStorage) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "claims", UsesStorage: true}, nil
}
func (s *claimsStorage) Token(context.Context) (sdk.Token, error) { return sdk.Token{}, nil }
func (s *claimsStorage) Refresh(context.Context, sdk.Token) (sdk.Token, error) {
	return sdk.Token{}, nil
}

type claimsStorageUser struct{ claimsStorage }

func (s *claimsStorageUser) UseStorage(st sdk.Storage) { s.handed = st }

// A Source in the host's process is handed the storage only when it is a StorageUser and the host offers
// some; UsesStorage counts only then.
func TestConfigureWithOffersStorageToStorageUsers(t *testing.T) {
	ctx := context.Background()
	st := &pluginStorage{provider: "corp"}
	if info, _ := configureWith(ctx, &claimsStorage{}, nil, st); info.UsesStorage {
		t.Error("a Source without UseStorage reported UsesStorage")
	}
	user := &claimsStorageUser{}
	if info, _ := configureWith(ctx, user, nil, st); !info.UsesStorage || user.handed != st {
		t.Errorf("a StorageUser offered storage: UsesStorage = %v, handed %v", info.UsesStorage, user.handed)
	}
	none := &claimsStorageUser{}
	if info, _ := configureWith(ctx, none, nil, nil); info.UsesStorage || none.handed != nil {
		t.Errorf("a StorageUser offered nothing: UsesStorage = %v, handed %v", info.UsesStorage, none.handed)
	}
}
