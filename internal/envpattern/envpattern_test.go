package envpattern

import "testing"

func TestMatch(t *testing.T) {
	patterns := []string{"CORP_TOKEN", "AZURE_*"}
	for name, want := range map[string]bool{
		"CORP_TOKEN":      true,
		"corp_token":      true,
		"CORP_TOKEN_2":    false,
		"AZURE_CLIENT_ID": true,
		"azure_":          true,
		"AZURE":           false,
		"HOME":            false,
	} {
		if got := Match(name, patterns); got != want {
			t.Errorf("Match(%q) = %v, want %v", name, got, want)
		}
	}
	if Match("ANY", nil) {
		t.Error("Match with no patterns matched")
	}
}
