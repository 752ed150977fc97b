package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, and that it either returns a configuration or an error.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "conf", "*.yaml"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("providers:\n  corp:\n    plugin: gateway\n    options:\n      client_secret_env: SECRET\n      nested: {api_key_file: key}\n"))
	f.Add([]byte("server: {listen: '0.0.0.0:1', api_keys: [a]}\nproviders: {p: {plugin: ./x, sha256: '" + strings.Repeat("A", 64) + "', breaker: {failures: 2}}}\n"))
	f.Add([]byte("providers: {p: {plugin: gateway, max_replay_bytes: 1.5GiB, retry_statuses: ['401', 5e2], fetch_timeout: 1e9}}"))
	f.Add([]byte("a: &a {b: *a}"))
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("k\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	s := Sources{
		Builtins: builtins,
		Dir:      dir,
		Environ:  []string{"HOME=" + dir, "SECRET=x", "CORP_LLM_CLIENT_SECRET=y", "TOKENHOST_PROVIDERS__CORP__REFRESH_BEFORE=1m"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, filepath.Join(dir, "tokenhost.yaml"), s)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg, err)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
