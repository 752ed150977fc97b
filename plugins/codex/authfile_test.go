package codex

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

func TestReadClaims(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	jwt := func(payload string) string {
		return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".sig"
	}
	padded := func(payload string) string {
		return "h." + base64.URLEncoding.EncodeToString([]byte(payload)) + ".s"
	}
	std := func(payload string) string {
		return "h." + base64.RawStdEncoding.EncodeToString([]byte(payload)) + ".s"
	}
	// A payload whose base64 holds - and _ in the URL alphabet (and + and / in the standard one).
	odd := `{"exp":1700000000,"x":"???>>>~~~"}`

	cases := []struct {
		name    string
		token   string
		exp     int64 // 0: none
		account string
		err     string
	}{
		{"exp and account", jwt(`{"exp":1700000000,"https://api.openai.com/auth":{"chatgpt_account_id":"acct-1"}}`), 1700000000, "acct-1", ""},
		{"float exp", jwt(`{"exp":1700000000.5}`), 1700000000, "", ""},
		{"no exp", jwt(`{"sub":"x"}`), 0, "", ""},
		{"null exp", jwt(`{"exp":null}`), 0, "", ""},
		{"padding tolerated", padded(`{"exp":1700000000,"p":"ab"}`), 1700000000, "", ""},
		{"standard alphabet tolerated", std(odd), 1700000000, "", ""},
		{"url alphabet", "h." + enc([]byte(odd)) + ".s", 1700000000, "", ""},
		{"account claim not an object", jwt(`{"https://api.openai.com/auth":"acct"}`), 0, "", ""},
		{"account id not a string", jwt(`{"https://api.openai.com/auth":{"chatgpt_account_id":5}}`), 0, "", ""},
		{"two segments", "a.b", 0, "", "2 dot-separated segments"},
		{"five segments (JWE)", "a.b.c.d.e", 0, "", "5 dot-separated segments"},
		{"opaque", "opaque-token", 0, "", "1 dot-separated segments"},
		{"payload not base64", "a.!!!.c", 0, "", "not base64url"},
		{"payload not an object", jwt(`[1]`), 0, "", "not a JSON object"},
		{"payload null", jwt(`null`), 0, "", "not a JSON object"},
		{"string exp", jwt(`{"exp":"1700000000"}`), 0, "", "non-numeric exp"},
		{"bool exp", jwt(`{"exp":true}`), 0, "", "non-numeric exp"},
		{"negative exp", jwt(`{"exp":-1}`), 0, "", "out of range"},
		{"huge exp", jwt(`{"exp":1e300}`), 0, "", "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readClaims(c.token)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				if strings.Contains(err.Error(), c.token) {
					t.Errorf("error quotes the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.exp == 0 && !got.exp.IsZero() || c.exp != 0 && got.exp.Unix() != c.exp {
				t.Errorf("exp %v, want %d", got.exp, c.exp)
			}
			if got.accountID != c.account {
				t.Errorf("account %q, want %q", got.accountID, c.account)
			}
		})
	}
}

func TestApplyKeepsEverythingElse(t *testing.T) {
	in := `{
    "OPENAI_API_KEY": null,
    "tokens": {"id_token": "` + fakes.MakeCodexJWT(map[string]any{"a": 1}) + `", "access_token": "` + fakes.MakeCodexJWT(map[string]any{"exp": 1}) + `",
               "refresh_token": "old-rt", "account_id": null, "x": [1, {"y": "a&b<c>"}]},
    "last_refresh": "2025-08-01T12:00:00Z",
    "unknown": {"nested": [true, null, 1.50, "é\u00e9"]},
    "html": "<a href=\"x\">&</a>"
}`
	a, err := parseAuth([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	newAccess := fakes.MakeCodexJWT(map[string]any{"exp": 4102444800})
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	out, err := a.apply(tokenUpdate{accessToken: newAccess}, now) // only the access token came back
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseAuth(out)
	if err != nil {
		t.Fatal(err)
	}
	if b.accessToken != newAccess || b.refreshToken != "old-rt" || b.idToken != a.idToken {
		t.Error("apply changed a token that did not come back, or missed the one that did")
	}
	if got := string(b.doc["last_refresh"]); got != `"2026-01-02T02:04:05.000000006Z"` {
		t.Errorf("last_refresh %s, want now in UTC, RFC 3339", got)
	}
	for _, k := range []string{"OPENAI_API_KEY", "unknown", "html"} {
		if compact(t, a.doc[k]) != compact(t, b.doc[k]) {
			t.Errorf("%s changed: %s -> %s", k, a.doc[k], b.doc[k])
		}
	}
	for _, k := range []string{"x", "account_id", "id_token", "refresh_token"} {
		if compact(t, a.tokens[k]) != compact(t, b.tokens[k]) {
			t.Errorf("tokens.%s changed: %s -> %s", k, a.tokens[k], b.tokens[k])
		}
	}
	if !bytes.Contains(out, []byte(`"<a href=\"x\">&</a>"`)) || !bytes.Contains(out, []byte("\n  \"html\"")) {
		t.Errorf("output is HTML-escaped or not indented with two spaces:\n%s", out)
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return buf.String()
}
