package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// builtins are the plugin names tests pass as Sources.Builtins.
var builtins = []string{"azure", "codex", "gateway", "gemini", "mcp"}

// parseYAML parses src as if read from dir/tokenhost.yaml, with the given environment.
func parseYAML(t *testing.T, src string, environ ...string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	return Parse([]byte(src), filepath.Join(dir, "tokenhost.yaml"), Sources{Environ: environ, Builtins: builtins, Dir: dir})
}

// mustParse parses src and fails the test on error.
func mustParse(t *testing.T, src string, environ ...string) *Config {
	t.Helper()
	cfg, err := parseYAML(t, src, environ...)
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, src)
	}
	return cfg
}

// errLines splits a joined error into its messages.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// writeFile writes data to dir/name (creating directories) and returns the path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
