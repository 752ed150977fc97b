package core

import (
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
