package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testStoreKey is a valid key for tests (32 zero bytes); never a real one.
const testStoreKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

const corpProvider = `
providers:
  corp: {plugin: gateway}
  solo: {plugin: gateway, shared: false}
`

func TestStoreDefaultsToLocal(t *testing.T) {
	cfg := mustParse(t, corpProvider)
	s := cfg.Store
	if s.Backend != "local" || s.KeyPrefix != DefaultStoreKeyPrefix || s.Timeout != DefaultStoreTimeout || s.DialTimeout != DefaultStoreDialTimeout {
		t.Fatalf("store = %+v; want the local defaults", s)
	}
	if cfg.Provider("corp").Shared {
		t.Fatal("shared defaults to true with a local store; want false")
	}
}

func TestStoreRedis(t *testing.T) {
	cfg := mustParse(t, `
store:
  backend: redis
  url: rediss://cache.internal:6380
  key_prefix: "fleet-a:"
  encryption_key_env: STORE_KEY
  timeout: 250ms
  dial_timeout: 2s
`+corpProvider, "STORE_KEY="+testStoreKey)
	s := cfg.Store
	if s.Backend != "redis" || s.URL != "rediss://cache.internal:6380" || s.KeyPrefix != "fleet-a:" || s.EncryptionKeys != testStoreKey ||
		s.Timeout != 250*time.Millisecond || s.DialTimeout != 2*time.Second {
		t.Fatalf("store = %+v", s)
	}
	if !cfg.Provider("corp").Shared || cfg.Provider("solo").Shared {
		t.Fatal("with a redis store, shared must default to true and honour shared: false")
	}
}

func TestStoreKeyFromFileWithRotation(t *testing.T) {
	dir := t.TempDir()
	other := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	writeFile(t, dir, "store.key", testStoreKey+"\n"+other+"\n")
	cfg := mustParse(t, "store: {backend: redis, url: \"redis://h:6379\", encryption_key_file: "+filepath.Join(dir, "store.key")+"}\n")
	if cfg.Store.EncryptionKeys != testStoreKey+"\n"+other {
		t.Fatal("the key file's keys were not read")
	}
}

// The configuration accepts any backend name, since a program may register backends of its own; core
// checks the name against the registered ones when it opens the store. Any backend but local is shared by
// a fleet, and its url is the backend's to check.
func TestStoreAnyBackend(t *testing.T) {
	cfg := mustParse(t, "store: {backend: etcd, url: \"etcd://h:2379\", encryption_key_env: K}\n"+corpProvider, "K="+testStoreKey)
	s := cfg.Store
	if s.Backend != "etcd" || s.URL != "etcd://h:2379" || s.EncryptionKeys != testStoreKey || !s.Shared() {
		t.Fatalf("store = %+v, shared %v", s, s.Shared())
	}
	if !cfg.Provider("corp").Shared || cfg.Provider("solo").Shared {
		t.Fatal("with a shared store, shared must default to true and honour shared: false")
	}
	c := s.Config()
	if c.Backend != "etcd" || c.URL != s.URL || c.KeyPrefix != DefaultStoreKeyPrefix || c.Keys != testStoreKey || c.OpTimeout != DefaultStoreTimeout || c.DialTimeout != DefaultStoreDialTimeout {
		t.Fatalf("store.Config = %+v", c)
	}
	if local := mustParse(t, corpProvider).Store; local.Shared() {
		t.Fatal("the local store counts as shared")
	}
}

func TestStoreProblems(t *testing.T) {
	cases := []struct {
		src     string
		environ []string
		want    string
	}{
		{"store: {backend: redis, url: \"redis://h:1\", encryption_key_env: K}", nil, "store.encryption_key_env: environment variable K is not set"},
		{"store: {backend: redis, url: \"redis://h:1\"}", nil, "store.encryption_key_env: required with backend: redis"},
		{"store: {backend: redis, encryption_key_env: K}", []string{"K=" + testStoreKey}, "store.url: required with backend: redis"},
		{"store: {backend: redis, url: \"http://h\", encryption_key_env: K}", []string{"K=" + testStoreKey}, "store.url: must start with redis://"},
		{"store: {backend: redis, url: \"redis://h:1\", encryption_key_env: K}", []string{"K=c2hvcnQ="}, "store.encryption_key_env: encryption key 1 of 1 is not 32 bytes"},
		{"store: {backend: redis, url: \"redis://h:1\", encryption_key_env: K, encryption_key_file: f}", []string{"K=" + testStoreKey}, "store.encryption_key_file: conflicts with encryption_key_env"},
		{"store: {backend: local, url: \"redis://h:1\"}", nil, "store.url: is not used with backend: local"},
		{"store: {backend: etcd, url: \"etcd://h:2379\"}", nil, "store.encryption_key_env: required with backend: etcd"},
		{"store: {timeuot: 1s}", nil, `store.timeuot: unknown key (did you mean "timeout"?)`},
		{"store: {timeout: 0s}", nil, "store.timeout: must be longer than zero"},
		{"providers: {corp: {plugin: gateway, shared: maybe}}", nil, "providers.corp.shared: must be true or false"},
	}
	for _, c := range cases {
		_, err := parseYAML(t, c.src, c.environ...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n got: %v\nwant: %s", c.src, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("an error shows the key: %v", err)
		}
	}
}

func TestSharedFromEnvironment(t *testing.T) {
	cfg := mustParse(t, corpProvider, "TOKENHOST_PROVIDERS__SOLO__SHARED=true")
	if !cfg.Provider("solo").Shared {
		t.Fatal("TOKENHOST_PROVIDERS__SOLO__SHARED=true did not set shared")
	}
}
