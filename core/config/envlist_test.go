package config

import "testing"

func TestEnvAllowList(t *testing.T) {
	c := mustParse(t, "providers:\n  corp:\n    plugin: gateway\n    env: [MY_VAR, 'MY_PREFIX_*']\n")
	if got := c.Provider("corp").Env; len(got) != 2 || got[0] != "MY_VAR" || got[1] != "MY_PREFIX_*" {
		t.Errorf("env = %v", got)
	}
}
