package config

import (
	"strings"
	"testing"
)

func TestAllowedHostProblem(t *testing.T) {
	for h, want := range map[string]string{
		"files.corp.example":        "",
		"files.corp.example:8443":   "",
		"[::1]:9000":                "",
		"*.corp.example":            "",
		"*.corp.example:8443":       "",
		"*.s3.amazonaws.com":        "public suffix", // a private-section suffix: anyone can have a bucket
		"*.com":                     "public suffix",
		"*.co.uk":                   "public suffix",
		"*.github.io":               "public suffix",
		"*.corp.example:99999":      "port",
		"*.corp.example:x":          "port",
		"*.127.0.0.1":               "domain name",
		"a.*.corp.example":          "not a host name",
		"https://files.example.com": "not a host name",
	} {
		got := AllowedHostProblem(h)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("AllowedHostProblem(%q) = %q, want one containing %q", h, got, want)
		}
	}
}
