// Package nodetools finds the pinned Node.js programs and modules the tests drive (tests/node/package.json:
// the Codex CLI, Claude Code, oidc-provider, the OpenAI Node SDK). `.ci/run` installs them with `npm ci`;
// without them a test is skipped, or fails under CI=true.
package nodetools

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns tests/node of this checkout (where package.json pins the tools).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tests", "node")
}

// Bin returns the path of an installed tool's command (node_modules/.bin/<name>), skipping the test when it
// is missing (failing under CI=true).
func Bin(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir(), "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		missing(t, name)
	}
	return p
}

// Modules returns the node_modules directory holding the pinned modules (for NODE_PATH or a script's
// require), skipping the test when the module named is missing (failing under CI=true).
func Modules(t testing.TB, module string) string {
	t.Helper()
	dir := filepath.Join(Dir(), "node_modules")
	if _, err := os.Stat(filepath.Join(dir, module, "package.json")); err != nil {
		missing(t, module)
	}
	return dir
}

// Node returns the path of the node binary, skipping the test when it is missing (failing under CI=true).
func Node(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node")
	}
	return p
}

func missing(t testing.TB, what string) {
	t.Helper()
	msg := what + " is not installed: run `npm ci --prefix tests/node` (Node.js 20+ and npm; .ci/run does this)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
