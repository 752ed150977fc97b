package tests

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/redistest"
)

// TestStoreKeygen: `tokenhost store keygen` prints a fresh 32-byte key in standard base64 each time.
func TestStoreKeygen(t *testing.T) {
	var keys []string
	for range 2 {
		r := tokenhost(t, "", nil, "store", "keygen")
		k := strings.TrimSpace(r.stdout)
		raw, err := base64.StdEncoding.DecodeString(k)
		if r.code != 0 || err != nil || len(raw) != 32 {
			t.Fatalf("store keygen did not print 32 bytes in standard base64\n%s", r)
		}
		keys = append(keys, k)
	}
	if keys[0] == keys[1] {
		t.Fatal("two keygen runs printed the same key")
	}
}

// TestStoreCheckAgainstRedis: `tokenhost store check` round-trips through a real redis-server, and a
// redis store without its key is a configuration error naming the key path.
func TestStoreCheckAgainstRedis(t *testing.T) {
	srv := redistest.Start(t)
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "tokenhost.yaml", "store:\n  backend: redis\n  url: "+srv.URL()+"\n  encryption_key_env: STORE_KEY\n")
	r := tokenhost(t, cfg, []string{"STORE_KEY=" + key}, "store", "check")
	if r.code != 0 || !strings.Contains(r.stdout, "store redis at "+srv.Addr+": ok") {
		t.Fatalf("store check against a running Redis\n%s", r)
	}
	r = tokenhost(t, cfg, nil, "store", "check")
	if r.code == 0 || !strings.Contains(r.stderr, "store.encryption_key_env: environment variable STORE_KEY is not set") {
		t.Fatalf("store check without the key\n%s", r)
	}
	srv.Stop()
	r = tokenhost(t, cfg, []string{"STORE_KEY=" + key}, "store", "check")
	if r.code == 0 || !strings.Contains(r.stderr, "the shared store is unavailable") || strings.Contains(r.stderr+r.stdout, key) {
		t.Fatalf("store check with Redis down\n%s", r)
	}
}

// TestStoreBackendNotLinked: the configuration accepts any store backend name, and the tokenhost command,
// which knows the backends it links, refuses one it does not link in `config validate` and `store check`,
// listing those it has and the likely intended one.
func TestStoreBackendNotLinked(t *testing.T) {
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	cfg := writeFile(t, "", "tokenhost.yaml", "store:\n  backend: rediss\n  url: redis://127.0.0.1:1\n  encryption_key_env: STORE_KEY\n")
	env := []string{"STORE_KEY=" + key}
	for _, args := range [][]string{{"config", "validate", cfg}, {"store", "check", "--config", cfg}} {
		r := tokenhost(t, "", env, args...)
		if r.code == 0 || !strings.Contains(r.stderr, `store backend "rediss" is not available (available: [local redis]) (did you mean "redis"?)`) {
			t.Errorf("%v with backend rediss:\n%s", args, r)
		}
	}
}

// TestFleetSharesTokensAcrossProcesses: four `tokenhost token` processes, one after another and each with
// its own gateway plugin process, share one redis-server: the identity provider is asked once, every
// process prints the same token, and Redis holds neither it nor the client's name in clear.
func TestFleetSharesTokensAcrossProcesses(t *testing.T) {
	srv := redistest.Start(t)
	g := newGatewayFakes(t)
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("store:\n  backend: redis\n  url: " + srv.URL() + "\n  encryption_key_env: STORE_KEY\nproviders:\n")
	b.WriteString(provider{name: "corp", secretEnv: "CORP_SECRET"}.yaml(g))
	cfg := writeFile(t, dir, "tokenhost.yaml", b.String())
	env := []string{"CORP_SECRET=" + g.secret, "STORE_KEY=" + key}
	before := g.idp.Requests()
	var first string
	for i := range 4 {
		r := tokenhost(t, cfg, env, "token", "corp")
		tok := strings.TrimSpace(r.stdout)
		if r.code != 0 || tok == "" {
			t.Fatalf("token run %d\n%s", i, r)
		}
		if first == "" {
			first = tok
		} else if tok != first {
			t.Fatalf("run %d printed another token than run 0: the token was not shared", i)
		}
	}
	if n := g.idp.Requests() - before; n != 1 {
		t.Fatalf("the identity provider got %d token requests from 4 processes; want 1", n)
	}
	dump := srv.Dump(t)
	if strings.Contains(dump, first) || strings.Contains(dump, g.clientID) || !strings.Contains(dump, "corp:") {
		t.Fatal("Redis holds the token or the client id in clear, or no key names the provider")
	}
}
