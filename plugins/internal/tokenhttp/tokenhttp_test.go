package tokenhttp

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   sdk.Kind
	}{
		{400, "invalid_grant", sdk.KindReauthRequired},
		{500, "invalid_grant", sdk.KindReauthRequired}, // the code decides over the status
		{401, "invalid_client", sdk.KindBadConfig},
		{400, "unauthorized_client", sdk.KindBadConfig},
		{400, "invalid_scope", sdk.KindBadConfig},
		{400, "invalid_request", sdk.KindBadConfig},
		{400, "unsupported_grant_type", sdk.KindBadConfig},
		{400, "invalid_target", sdk.KindBadConfig},
		{403, "access_denied", sdk.KindBadConfig},
		{400, "temporarily_unavailable", sdk.KindUnavailable},
		{400, "server_error", sdk.KindUnavailable},
		{503, "", sdk.KindUnavailable},
		{429, "slow_down_please", sdk.KindUnavailable},
		{408, "", sdk.KindUnavailable},
		{400, "something_new", sdk.KindInternal},
		{404, "", sdk.KindInternal},
		{401, "", sdk.KindInternal},
	}
	for _, c := range cases {
		if got := Classify(c.status, c.code); got != c.want {
			t.Errorf("Classify(%d, %q) = %s, want %s", c.status, c.code, got, c.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"[::1]": false, "10.0.0.1": false, "localhost.example": false, "example.com": false, "": false,
	} {
		if got := sdk.IsLoopback(host); got != want {
			t.Errorf("sdk.IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{"abc": false, "a b": false, "a\tb": true, "a\nb": true, "a\x7fb": true, "a\u0085b": true, "é": false} {
		if got := HasControl(s); got != want {
			t.Errorf("HasControl(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSafeCode(t *testing.T) {
	for code, want := range map[string]string{
		"invalid_grant": "invalid_grant", "AADSTS.700:x-1": "AADSTS.700:x-1", "": "", "has space": "",
		"eyJ{json}": "", strings.Repeat("a", 65): "", strings.Repeat("a", 64): strings.Repeat("a", 64),
	} {
		if got := SafeCode(code); got != want {
			t.Errorf("SafeCode(%q) = %q, want %q", code, got, want)
		}
	}
}
