package tokenkit_test

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
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
		if got := tokenkit.Classify(c.status, c.code); got != c.want {
			t.Errorf("Classify(%d, %q) = %s, want %s", c.status, c.code, got, c.want)
		}
	}
}

func TestSafeCode(t *testing.T) {
	for code, want := range map[string]string{
		"invalid_grant": "invalid_grant", "AADSTS.700:x-1": "AADSTS.700:x-1", "": "", "has space": "",
		"eyJ{json}": "", strings.Repeat("a", 65): "", strings.Repeat("a", 64): strings.Repeat("a", 64),
	} {
		if got := tokenkit.SafeCode(code); got != want {
			t.Errorf("SafeCode(%q) = %q, want %q", code, got, want)
		}
	}
}
