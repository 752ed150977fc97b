package core

import (
	"os"
	"slices"
	"testing"
)

func TestPluginEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "http_proxy=http://p", "XDG_RUNTIME_DIR=/run", "CORP_SECRET=s", "AZURE_TENANT_ID=t",
		"TOKENHOST_PROVIDERS__X__UPSTREAM=u", "TOKENHOST_LOG=1", "MINE=1", "MINE_TOO=1", "noequals"}
	got := pluginEnv(environ, []string{"AZURE_*", "TOKENHOST_*"}, []string{"MINE"})
	want := []string{"PATH=/bin", "http_proxy=http://p", "XDG_RUNTIME_DIR=/run", "AZURE_TENANT_ID=t", "MINE=1"}
	if !slices.Equal(got, want) {
		t.Errorf("pluginEnv = %v, want %v", got, want)
	}
}

func TestReadsEnvIsRecorded(t *testing.T) {
	b := builtin{}
	ReadsEnv("A", "B_*")(&b)
	if !slices.Equal(b.env, []string{"A", "B_*"}) {
		t.Errorf("env = %v", b.env)
	}
}

// A host that runs the built-ins of an installed binary (Options.PluginExecutable) learns the variables
// they read from that binary; here the binary is this test program, which registers gateway in TestMain.
func TestBuiltinEnvFromAnotherExecutable(t *testing.T) {
	want := []string{"TEST_GATEWAY_HOME", "TEST_GATEWAY_*"}
	if got, err := builtinEnv("", "gateway"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("registered here: %v %v", got, err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := builtinEnv(self, "gateway"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("asked from %s: %v %v, want %v", self, got, err, want)
	}
}
