package main

import (
	"strings"
	"testing"
)

// A run's TOKENHOST_<NAME>_URL never holds "__" (a tokenhost the command runs reads that as a key of its own
// configuration and stops), and a name without a letter or digit is a usage error.
func TestProviderVarsHoldNoDoubleUnderscore(t *testing.T) {
	got, err := providerVars([]string{"corp", "tools-eu", "a--b", "-x_", "m_-_2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"corp": "TOKENHOST_CORP_URL", "tools-eu": "TOKENHOST_TOOLS_EU_URL",
		"a--b": "TOKENHOST_A_B_URL", "-x_": "TOKENHOST_X_URL", "m_-_2": "TOKENHOST_M_2_URL"}
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s: %s, want %s", p, got[p], v)
		}
		if strings.Contains(got[p], "__") {
			t.Errorf("%s: %s holds __", p, got[p])
		}
	}
	if _, err := providerVars([]string{"a-b", "a--b"}); err == nil || !strings.Contains(err.Error(), "TOKENHOST_A_B_URL") {
		t.Errorf("two names with one variable: %v", err)
	}
	if _, err := providerVars([]string{"--"}); err == nil {
		t.Error("a name without a letter or digit was given a variable")
	}
}
