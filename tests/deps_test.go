package tests

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tokenhost/tokenhost"

// deps returns the packages pkgs depend on (themselves included), as `go list -deps` prints them.
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...)
	cmd.Dir = ".." // the module root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", strings.Join(pkgs, " "), err)
	}
	return strings.Fields(string(out))
}

// forbid fails the test for every dependency of pkg that starts with one of the prefixes.
func forbid(t *testing.T, pkg string, why string, prefixes ...string) {
	t.Helper()
	for _, d := range deps(t, pkg) {
		for _, p := range prefixes {
			if d == p || strings.HasPrefix(d, p+"/") {
				t.Errorf("%s depends on %s; %s", pkg, d, why)
			}
		}
	}
}

// heavy are the libraries only the built-in plugins or the proxy need.
var heavy = []string{
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity",
	"cloud.google.com",
	"golang.org/x/oauth2/google",
	"github.com/gofrs/flock",
	"github.com/prometheus",
	"github.com/redis/go-redis", // fleet mode's backend, linked by a blank import of store/redisstore
}

// hostInternals are the internal packages through which the proxy and cmd reach a host beyond core's
// exported API; core, the proxy and cmd import them, the sdk and the plugins never.
var hostInternals = []string{module + "/internal/hostapi", module + "/internal/stats"}

// TestImportDiagram keeps docs/architecture.md's import diagram true: internal/pluginrpc <- sdk <- plugins
// <- plugins/builtin <- cmd, sdk <- core <- proxy <- cmd, and store/seal <- store <- core, with store <-
// store/redisstore <- cmd; neither the sdk nor a plugin imports the host's internals.
func TestImportDiagram(t *testing.T) {
	forbid(t, module+"/sdk", "sdk must import neither core, the proxy, the host's internals nor any plugin",
		append([]string{module + "/core", module + "/proxy", module + "/plugins"}, hostInternals...)...)
	below := 0
	for _, d := range deps(t, module+"/sdk") {
		if strings.HasPrefix(d, module+"/internal/") {
			below++
			forbid(t, d, "sdk imports it, so it sits below sdk (plugin processes link it): it must import neither core, the proxy nor any plugin",
				module+"/core", module+"/proxy", module+"/plugins")
		}
	}
	if below == 0 {
		t.Errorf("sdk imports no package under internal/; the host's plugin plumbing (internal/pluginrpc) sits below it")
	}
	forbid(t, module+"/core", "core must know no plugin, no proxy, no Prometheus and no Redis client (register built-ins via plugins/builtin, store backends via store.Register)",
		append([]string{module + "/plugins", module + "/proxy"}, heavy...)...)
	for _, p := range []string{"store", "store/storetest"} {
		forbid(t, module+"/"+p, "the store package and its conformance suite sit below core and beside every backend: they import neither the host nor a backend",
			module+"/core", module+"/proxy", module+"/plugins", module+"/store/redisstore", "github.com/redis/go-redis")
	}
	forbid(t, module+"/store/redisstore", "a store backend imports store, not the host", module+"/core", module+"/proxy", module+"/plugins")
	for _, p := range []string{"azure", "codex", "gateway", "gemini", "internal/..."} {
		forbid(t, "./plugins/"+p, "plugins import sdk and plugins/internal only",
			append([]string{module + "/core", module + "/proxy"}, hostInternals...)...)
	}
	forbid(t, module+"/proxy", "the proxy runs on core and must not link the plugins", module+"/plugins")
}

// TestLeanEmbedderLinksNoPluginLibraries checks that a program importing only core (tests/testdata/lean)
// links none of the built-in plugins' identity libraries and no Prometheus.
func TestLeanEmbedderLinksNoPluginLibraries(t *testing.T) {
	forbid(t, "./tests/testdata/lean", "a program importing only core must stay lean", append([]string{module + "/plugins"}, heavy...)...)
}

// TestReleaseBinaryShipsNoTestCode checks that the tokenhost command links nothing from tests/.
func TestReleaseBinaryShipsNoTestCode(t *testing.T) {
	forbid(t, "./cmd/tokenhost", "the release binary must not ship test code (the demo's fakes live in internal/fakes)", module+"/tests", module+"/internal/hosttest")
}
