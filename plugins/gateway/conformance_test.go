package gateway

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

// The sdk's conformance suite for the grants beside client_credentials (which TestConformance runs).
func TestConformanceOtherGrants(t *testing.T) {
	const sts, stsSecret = "sts-client", "sts-s3cret-value"
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: sts, ClientSecret: stsSecret, TokenExchange: true, JWTBearer: true})
	t.Cleanup(idp.Close)
	dir := t.TempDir()
	subject := filepath.Join(dir, "subject")
	if err := os.WriteFile(subject, []byte("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ3In0.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "key.pem")
	writeECKey(t, key)
	helper := script(t, `head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'`)

	for name, s := range map[string]sdktest.Suite{
		"token_exchange": {New: New, Options: map[string]any{"grant": grantTokenExchange, "token_url": idp.TokenURL(), "client_id": sts,
			"client_secret": stsSecret, "subject_token_file": subject},
			BadOptions: map[string]map[string]any{
				"no subject": {"grant": grantTokenExchange, "token_url": idp.TokenURL(), "client_id": sts, "client_secret": stsSecret},
				"two subjects": {"grant": grantTokenExchange, "token_url": idp.TokenURL(), "subject_token_file": subject, "subject_token_env": "X",
					"client_secret": "another-s3cret-value", "client_id": sts},
			}},
		"jwt_bearer": {New: New, Options: map[string]any{"grant": grantJWTBearer, "token_url": idp.TokenURL(), "client_id": sts,
			"client_secret": stsSecret, "private_key_file": key},
			BadOptions: map[string]map[string]any{
				"no assertion": {"grant": grantJWTBearer, "token_url": idp.TokenURL()},
				"exec option":  {"grant": grantJWTBearer, "token_url": idp.TokenURL(), "private_key_file": key, "command": []any{"x"}, "client_id": sts},
				"missing key":  {"grant": grantJWTBearer, "token_url": idp.TokenURL(), "private_key_file": filepath.Join(dir, "none.pem"), "client_id": sts},
			}},
		"exec": {New: New, Options: map[string]any{"grant": grantExec, "command": []any{helper}},
			BadOptions: map[string]map[string]any{
				"no command":     {"grant": grantExec},
				"token_url too":  {"grant": grantExec, "command": []any{helper}, "token_url": idp.TokenURL()},
				"negative cache": {"grant": grantExec, "command": []any{helper}, "cache_for": "-1m"},
				"bad helper_env": {"grant": grantExec, "command": []any{helper}, "helper_env": []any{"A=B"}},
			}},
	} {
		t.Run(name, func(t *testing.T) { sdktest.Run(t, s) })
	}
}
