package gemini

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
)

func FuzzParseCreds(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"ya29.a","refresh_token":"1//r","scope":"s","token_type":"Bearer","id_token":"x.y.z","expiry_date":1754000000000}`,
		`{"access_token":"ya29.a","expiry_date":1754000000000.375}`,
		`{"refresh_token":"1//r","expiry_date":"1754000000000"}`,
		`{"access_token":"a","expiry_date":null,"extra":{"k":[1,2,3]}}`,
		`{"access_token":"a","expiry_date":1e300}`,
		`{"type":"authorized_user"}`,
		`[]`, `null`, ``, `{"access_token":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCreds(data)
		if err != nil {
			if _, ok := err.(*credfile.Problem); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if c.accessToken == "" && c.refreshToken == "" {
			t.Fatal("parsed a file without tokens")
		}
		// A refresh keeps every field it does not own and round-trips through encode.
		before := map[string]json.RawMessage{}
		for k, v := range c.doc {
			before[k] = v
		}
		c.apply(&grant{accessToken: "ya29.new", expiresIn: time.Hour}, time.UnixMilli(1754000000000))
		out, err := c.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := parseCreds(out)
		if err != nil {
			t.Fatalf("the rewritten file does not parse: %v", err)
		}
		if again.accessToken != "ya29.new" || again.refreshToken != c.refreshToken || !again.expiry.Equal(time.UnixMilli(1754000000000).Add(time.Hour)) {
			t.Fatal("the rewritten file lost the refresh")
		}
		for k, v := range before {
			switch k {
			case "access_token", "expiry_date", "expires_in":
				continue
			}
			var a, b any
			_ = json.Unmarshal(v, &a)
			_ = json.Unmarshal(again.doc[k], &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("field %q changed in the rewrite", k)
			}
		}
	})
}

func FuzzParseADC(f *testing.F) {
	for _, seed := range []string{
		`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","quota_project_id":"p"}`,
		`{"type":"service_account","client_email":"a@b","private_key":"k","token_uri":"https://oauth2.googleapis.com/token"}`,
		`{"type":"external_account"}`, `{"installed":{}}`, `{"type":5}`, `{}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseADC(data)
		if err != nil {
			if _, ok := err.(*credfile.Problem); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if a.typ != typeAuthorizedUser && a.typ != typeServiceAccount {
			t.Fatalf("accepted type %q", a.typ)
		}
		out, err := a.withTokenURL("http://127.0.0.1:1/token")
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseADC(out)
		if err != nil || b.typ != a.typ || b.quotaProject != a.quotaProject || b.tokenURL("") != "http://127.0.0.1:1/token" {
			t.Fatalf("token_uri rewrite changed the file: %v", err)
		}
	})
}

// FuzzResponseError feeds arbitrary token-endpoint answers to the error mapper: it must not panic, must
// always produce an error of one line without control characters, and must never quote a secret it was
// told to redact, even when the endpoint echoes it back.
func FuzzResponseError(f *testing.F) {
	const secret = "fuzz-client-secret-0123456789"
	for _, seed := range []string{
		`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`,
		`{"error":{"code":401,"status":"UNAUTHENTICATED","message":"x"}}`,
		`{"error":"invalid_client","error_description":"bad secret ` + secret + `"}`,
		`<html>503</html>`, ``, `null`, `{"error":7}`,
	} {
		f.Add(400, "application/json", []byte(seed))
	}
	ep := endpoint{display: "https://oauth2.example.test/token", next: "sign in again", clientKey: "client_secret", redact: []string{secret}}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		if status < 100 || status > 999 {
			status = 400
		}
		err := responseError(ep, status, contentType, body)
		if err == nil {
			t.Fatal("an error answer produced no error")
		}
		msg := err.Error()
		if strings.Contains(msg, secret) {
			t.Fatal("a redacted secret reached the error message")
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("control characters in %q", msg)
		}
	})
}
