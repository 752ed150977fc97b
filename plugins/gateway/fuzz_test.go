package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// What a helper command prints is outside input: parsing it never panics, never accepts a token with
// control characters, and never quotes the output in its error.
func FuzzParseHelperOutput(f *testing.F) {
	for _, s := range []string{"tok", `{"access_token":"a","expires_in":60}`, `{"status":{"token":"k","expirationTimestamp":"2026-01-01T00:00:00Z"}}`,
		`{"accessToken":"z","expires_on":"1767330000"}`, `{"token":"t","expiry":"x"}`, "{", "a b"} {
		f.Add(s)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, out string) {
		tr, err := parseHelperOutput([]byte(out), now)
		if err != nil {
			if len(out) > 12 && strings.Contains(err.Error(), out) {
				t.Fatal("the error quotes the output")
			}
			return
		}
		if tr.access == "" || strings.ContainsAny(tr.access, "\r\n\x00") {
			t.Fatalf("accepted an unusable token")
		}
	})
}

// A token endpoint's answer is outside input: mapping it never panics and an accepted answer has a token.
func FuzzTokenResponse(f *testing.F) {
	f.Add(`{"access_token":"a","expires_in":3600,"token_type":"N_A","refresh_token":"r"}`, "access_token", "expires_in", expirySeconds)
	f.Add(`{"data":{"jwt":"x","until":"2027-01-01T00:00:00Z"}}`, "data.jwt", "data.until", expiryRFC3339)
	f.Add(`{"t":"x","e":1800000000}`, "t", "e", expiryUnix)
	f.Fuzz(func(t *testing.T, body, tokenField, expiryField, format string) {
		var doc map[string]any
		if json.Unmarshal([]byte(body), &doc) != nil || doc == nil {
			return
		}
		m := mapping{tokenField: tokenField, expiryField: expiryField, format: format}
		tr, err := m.parse(doc, time.Unix(1_800_000_000, 0))
		if err == nil && (tr.access == "" || tr.tokenType == "") {
			t.Fatal("accepted an answer without a token or token type")
		}
	})
}

// The device authorization answer is outside input.
func FuzzDeviceAuth(f *testing.F) {
	f.Add(`{"device_code":"d","user_code":"U","verification_uri":"https://x/","interval":5,"expires_in":600}`)
	f.Add(`{"device_code":"d","user_code":"U","verification_uri":"javascript:alert(1)"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var doc map[string]any
		if json.Unmarshal([]byte(body), &doc) != nil || doc == nil {
			return
		}
		da, err := parseDeviceAuth(doc, time.Unix(1_800_000_000, 0))
		if err != nil {
			return
		}
		if da.deviceCode == "" || da.userCode == "" || !(strings.HasPrefix(da.uri, "https://") || strings.HasPrefix(da.uri, "http://")) || da.interval <= 0 {
			t.Fatal("accepted an unusable device authorization")
		}
	})
}
