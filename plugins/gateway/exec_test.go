package gateway

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helper.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseHelperOutput(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name, out, token string
		expiry           time.Time
	}{
		{"bare line", "tok-abc.def\n", "tok-abc.def", time.Time{}},
		{"json access_token expires_in", `{"access_token":"a1","expires_in":60}`, "a1", now.Add(time.Minute)},
		{"json token expires_at unix", `{"token":"t1","expires_at":1767323045}`, "t1", time.Unix(1767323045, 0)},
		{"credential_process style", `{"token":"t2","expiry":"2026-01-02T04:00:00Z"}`, "t2", time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)},
		{"ExecCredential", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"k8s","expirationTimestamp":"2026-01-02T05:00:00Z"}}`, "k8s", time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)},
		{"az with expires_on", `{"accessToken":"az1","expiresOn":"2026-01-02 09:00:00.000000","expires_on":1767330000,"tokenType":"Bearer"}`, "az1", time.Unix(1767330000, 0)},
		{"az old", `{"accessToken":"az2","expiresOn":"2026-01-02 09:00:00.000000"}`, "az2", time.Date(2026, 1, 2, 9, 0, 0, 0, time.Local)},
	}
	for _, c := range cases {
		tr, err := parseHelperOutput([]byte(c.out), now)
		if err != nil || tr.access != c.token || !tr.expiry.Equal(c.expiry) {
			t.Errorf("%s: token %q expiry %v err %v; want %q %v", c.name, tr.access, tr.expiry, err, c.token, c.expiry)
		}
	}
	for name, out := range map[string]string{
		"empty": "", "two words": "token and more", "two lines": "a\nb", "json without token": `{"foo":"bar"}`,
		"broken json": `{"access_token":`, "bad ExecCredential time": `{"status":{"token":"x","expirationTimestamp":"soon"}}`,
	} {
		if _, err := parseHelperOutput([]byte(out), now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestExecGrant(t *testing.T) {
	t.Setenv("GATEWAY_TEST_SECRET", "must-not-reach-the-helper")
	t.Setenv("GATEWAY_TEST_ALLOWED", "visible")
	helper := script(t, `printf '{"access_token":"%s-%s","expires_in":300}' "${GATEWAY_TEST_SECRET:-absent}" "${GATEWAY_TEST_ALLOWED:-absent}"`)
	src := configure(t, map[string]any{"grant": grantExec, "command": []any{helper}, "helper_env": []any{"GATEWAY_TEST_ALLOWED"},
		"extra_headers": map[string]any{"x-tenant-id": "t9"}})
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value != "absent-visible" || tok.Headers["X-Tenant-Id"] != "t9" || time.Until(tok.Expiry) < 4*time.Minute {
		t.Errorf("token %q headers %v expiry %v: the helper must see only the minimal environment plus helper_env", tok.Value, tok.Headers, tok.Expiry)
	}
}

// stderrJWT is a JWT-shaped word a failing helper prints on its standard error.
const stderrJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA"

func TestExecGrantFailures(t *testing.T) {
	cases := []struct {
		name, body string
		extra      map[string]any
		kind       sdk.Kind
		want       []string
		not        string
	}{
		{"exit status quotes stderr's first line", "echo 'login expired: run corp-cli login' >&2; echo second >&2; exit 3", nil,
			sdk.KindUnavailable, []string{"status 3", "login expired: run corp-cli login"}, "second"},
		{"garbage output", "echo 'not a token at all, secret-garbage'", nil, sdk.KindUnavailable, []string{"more than one word"}, "secret-garbage"},
		{"hangs", "exec sleep 30", map[string]any{"timeout": "200ms"}, sdk.KindUnavailable, []string{"did not finish within 200ms"}, ""},
		{"stderr's token is redacted", "echo 'refresh failed for " + stderrJWT + " (expired)' >&2; exit 1", nil,
			sdk.KindUnavailable, []string{"status 1", "refresh failed for [sha256:", "(expired)"}, stderrJWT[:24]},
		{"output over 1 MiB", "head -c 1100000 /dev/zero | tr '\\0' a", nil, sdk.KindUnavailable,
			[]string{"command " + "HELPER", "more than 1048576 bytes (1 MiB)"}, "aaaa"},
		{"token over 64 KiB", "head -c 70000 /dev/zero | tr '\\0' a", nil, sdk.KindUnavailable,
			[]string{"command " + "HELPER", "token of 70000 bytes, more than the 65536"}, "aaaa"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			helper := script(t, c.body)
			opts := map[string]any{"grant": grantExec, "command": []any{helper}}
			for k, v := range c.extra {
				opts[k] = v
			}
			_, err := configure(t, opts).Token(t.Context())
			if !sdk.IsKind(err, c.kind) {
				t.Fatalf("err = %v, want kind %s", err, c.kind)
			}
			for _, w := range c.want {
				if w = strings.ReplaceAll(w, "HELPER", helper); !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
			if c.not != "" && strings.Contains(err.Error(), c.not) {
				t.Errorf("%q quotes %q", err, c.not)
			}
		})
	}
	_, err := configure(t, map[string]any{"grant": grantExec, "command": []any{"/nonexistent/corp-cli"}}).Token(t.Context())
	if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing command: %v", err)
	}
}

func TestExecCacheFor(t *testing.T) {
	src := configure(t, map[string]any{"grant": grantExec, "command": []any{script(t, "echo plain-token")}, "cache_for": "10m"})
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "plain-token" || time.Until(tok.Expiry) < 9*time.Minute {
		t.Fatalf("token %q expiry %v err %v", tok.Value, tok.Expiry, err)
	}
}

func TestStaticKey(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		t.Setenv("CORP_KEY_FOR_TEST", "key-one-value")
		src := configure(t, map[string]any{"grant": grantStatic, "key_env": "CORP_KEY_FOR_TEST", "extra_headers": map[string]any{"x-tenant-id": "a"}})
		tok, err := src.Token(t.Context())
		if err != nil || tok.Value != "key-one-value" || !tok.Expiry.IsZero() || tok.Headers["X-Tenant-Id"] != "a" {
			t.Fatalf("token %v err %v", tok.Headers, err)
		}
		_, err = src.Refresh(t.Context(), tok)
		if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "CORP_KEY_FOR_TEST") || strings.Contains(err.Error(), "key-one-value") {
			t.Fatalf("Refresh of a rejected static key: %v; want ReauthRequired naming the variable, not the key", err)
		}
	})
	t.Run("file is re-read", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, []byte("old-key-value\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		src := configure(t, map[string]any{"grant": grantStatic, "key_file": path})
		tok, err := src.Token(t.Context())
		if err != nil || tok.Value != "old-key-value" {
			t.Fatalf("err %v", err)
		}
		if err := os.WriteFile(path, []byte("new-key-value\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := src.Refresh(t.Context(), tok)
		if err != nil || again.Value != "new-key-value" {
			t.Fatalf("Refresh after the file changed: err %v", err)
		}
	})
}

// A helper's standard error reaches the plugin's own log whole, and its errors (which the host serves)
// only with token-shaped words redacted.
func TestExecStderrLoggedWithoutTokens(t *testing.T) {
	var log bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	src := configure(t, map[string]any{"grant": grantExec, "command": []any{script(t, "echo 'bad token "+stderrJWT+" for alice' >&2; exit 2")}})
	_, err := src.Token(t.Context())
	if err == nil || strings.Contains(err.Error(), stderrJWT[:24]) {
		t.Fatalf("err = %v, want a failure without the token", err)
	}
	if strings.Contains(log.String(), stderrJWT[:24]) {
		t.Errorf("the plugin's log holds the token the helper printed:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "for alice") || !strings.Contains(log.String(), "status=2") {
		t.Errorf("the plugin's log lacks the rest of the helper's stderr line and its status:\n%s", log.String())
	}
}
