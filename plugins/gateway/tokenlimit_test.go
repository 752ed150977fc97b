package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// A token endpoint's answer is never cut short into a token: a token over sdk.MaxTokenBytes, or an answer
// over maxBody (here form-encoded, which reads as a token when truncated), is an error naming the limit.
func TestEndpointTokenLimits(t *testing.T) {
	for _, c := range []struct {
		name, ct, body, want string
	}{
		{"token over 64 KiB", "application/json", `{"access_token":"` + strings.Repeat("a", sdk.MaxTokenBytes+1) + `","expires_in":60}`,
			"access token of 65537 bytes, more than the 65536"},
		{"answer over 1 MiB", "application/x-www-form-urlencoded", "expires_in=60&access_token=" + strings.Repeat("b", maxBody),
			"more than 1048576 bytes (1 MiB)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ct)
				_, _ = w.Write([]byte(c.body))
			}))
			t.Cleanup(srv.Close)
			tok, err := configure(t, map[string]any{"token_url": srv.URL, "client_id": "c", "client_secret": clientSecret}).Token(t.Context())
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "aaaa") || strings.Contains(err.Error(), "bbbb") {
				t.Fatalf("token of %d bytes, err %v; want an error saying %q", len(tok.Value), err, c.want)
			}
		})
	}
}

func TestStaticKeyLimit(t *testing.T) {
	t.Setenv("CORP_KEY_FOR_TEST", strings.Repeat("k", sdk.MaxTokenBytes+1))
	_, err := configure(t, map[string]any{"grant": grantStatic, "key_env": "CORP_KEY_FOR_TEST"}).Token(t.Context())
	if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(err.Error(), "CORP_KEY_FOR_TEST") || !strings.Contains(err.Error(), "65536") {
		t.Fatalf("err = %v, want BadConfig naming the variable and the limit", err)
	}
}
