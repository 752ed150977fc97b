package codex

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// FuzzParseAuthFile feeds arbitrary bytes to the auth file parser: it must never panic, its errors must be
// *credfile.Problem values, and a file it accepts must survive a rewrite with every field it does not own intact.
func FuzzParseAuthFile(f *testing.F) {
	jwt := fakes.MakeCodexJWT(map[string]any{"exp": 1700000000, "https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "a"}})
	for _, seed := range []string{
		`{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"` + jwt + `","access_token":"` + jwt + `","refresh_token":"r","account_id":null},"last_refresh":"2025-08-01T12:00:00Z","agent_identity":{"x":[1,2]}}`,
		`{"OPENAI_API_KEY":"sk-1"}`,
		`{"auth_mode":"apikey","OPENAI_API_KEY":"sk-1","tokens":null}`,
		`{"tokens":{"access_token":"a.b","refresh_token":"r"}}`,
		`{"tokens":{"refresh_token":"r","x":{"y":null}},"tokens":{"refresh_token":"s"}}`,
		`{"tokens":{"access_token":"` + jwt + `"},"last_refresh":5}`,
		``, `null`, `[]`, `{`, `{"tokens":[]}`, `{"auth_mode":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAuth(data)
		if err != nil {
			var p *credfile.Problem
			if !errors.As(err, &p) {
				t.Fatalf("error of type %T, want *credfile.Problem", err)
			}
			return
		}
		if a.apiKeyMode {
			if a.apiKey == "" {
				t.Fatal("api-key mode without a key")
			}
			return
		}
		if a.accessToken == "" && a.refreshToken == "" {
			t.Fatal("accepted a ChatGPT file with neither token")
		}
		newAccess := fakes.MakeCodexJWT(map[string]any{"exp": 4102444800})
		out, err := a.apply(tokenUpdate{accessToken: newAccess, refreshToken: "rt-new"}, time.Unix(1800000000, 0))
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		b, err := parseAuth(out)
		if err != nil {
			t.Fatalf("the rewritten file does not parse: %v\n%s", err, out)
		}
		if b.accessToken != newAccess || b.refreshToken != "rt-new" || b.idToken != a.idToken {
			t.Fatal("the rewrite lost or mixed up tokens")
		}
		for k, v := range a.doc {
			if k == "tokens" || k == "last_refresh" {
				continue
			}
			if !sameJSON(v, b.doc[k]) {
				t.Fatalf("top-level %q changed: %s -> %s", k, v, b.doc[k])
			}
		}
		for k, v := range a.tokens {
			if k == "access_token" || k == "refresh_token" {
				continue
			}
			if !sameJSON(v, b.tokens[k]) {
				t.Fatalf("tokens.%s changed: %s -> %s", k, v, b.tokens[k])
			}
		}
	})
}

func sameJSON(x, y json.RawMessage) bool {
	var bx, by bytes.Buffer
	if json.Compact(&bx, x) != nil || json.Compact(&by, y) != nil {
		return false
	}
	return bytes.Equal(bx.Bytes(), by.Bytes())
}

// FuzzJWTClaims feeds arbitrary strings to the claim reader: it must never panic, never quote its input in
// an error, and any exp it returns must be in range.
func FuzzJWTClaims(f *testing.F) {
	for _, seed := range []string{
		fakes.MakeCodexJWT(map[string]any{"exp": 1700000000, "https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "a"}}),
		fakes.MakeCodexJWT(map[string]any{"exp": "soon"}),
		fakes.MakeCodexJWT(map[string]any{"exp": 1.5e9}),
		"a.b", "a.b.c", "..", "a.eyJleHAiOjF9.c", "a.eyJleHAiOjF9==.c", "", "a.b.c.d.e",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := readClaims(s)
		if err != nil {
			if len(s) >= 8 && bytes.Contains([]byte(err.Error()), []byte(s)) {
				t.Fatal("the error quotes the token")
			}
			return
		}
		if !c.exp.IsZero() && (c.exp.Unix() <= 0 || c.exp.Unix() > maxExp) {
			t.Fatalf("exp %v out of range", c.exp)
		}
	})
}

// FuzzErrorCode feeds arbitrary token-endpoint error bodies to the code reader: it must not panic, and
// whatever it returns is short and made only of code characters, so a body is never quoted.
func FuzzErrorCode(f *testing.F) {
	for _, seed := range []string{
		`{"error":{"code":"refresh_token_reused","message":"x"}}`,
		`{"error":"refresh_token_expired"}`,
		`{"code":"refresh_token_invalidated"}`,
		`{"error":{"code":42}}`, `{"error":null}`, `[]`, ``, `<html>oops</html>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code := errorCode(body)
		if code != tokenkit.SafeCode(code) || len(code) > 64 {
			t.Fatalf("errorCode returned %q, which is not a safe code", code)
		}
	})
}
