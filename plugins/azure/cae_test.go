package azure

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// A CAE claims challenge from the upstream reaches Entra ID as the token request's claims, and the
// plugin asks for a CAE-capable token; a rejection without one refreshes as before.
func TestRefreshRejectedPassesCAEClaims(t *testing.T) {
	e, ca := entra(t)
	src, _ := configure(t, secretOptions(e, ca, nil))
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	claims := `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`
	challenge := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="` +
		base64.StdEncoding.EncodeToString([]byte(claims)) + `"`
	b, err := src.RefreshRejected(t.Context(), a, sdk.NewRejection(401, []string{challenge}))
	if err != nil {
		t.Fatal(err)
	}
	if b.Value == a.Value || !e.Valid(b.Value) {
		t.Fatal("RefreshRejected did not return a new valid token")
	}
	sent := e.LastForm().Get("claims")
	if !strings.Contains(sent, `"nbf"`) || !strings.Contains(sent, `"1700000000"`) || !strings.Contains(strings.ToLower(sent), `"cp1"`) {
		t.Fatalf("the token request's claims are %q, want the challenge's nbf claim and the cp1 capability", sent)
	}
	c, err := src.RefreshRejected(t.Context(), b, sdk.NewRejection(401, []string{`Bearer error="invalid_token"`}))
	if err != nil || c.Value == b.Value {
		t.Fatalf("RefreshRejected without claims: %v (new token: %v)", err, c.Value != b.Value)
	}
	if got := e.LastForm().Get("claims"); strings.Contains(got, "1700000000") {
		t.Fatalf("a rejection without a claims challenge sent claims %q", got)
	}
}

func TestCAEClaims(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte(`{"access_token":{}}`))
	for in, want := range map[string]string{
		`Bearer claims="` + enc + `"`:                              `{"access_token":{}}`,
		`Basic claims="` + enc + `", Bearer error="invalid_token"`: "",
		`Bearer claims="bm90IGpzb24="`:                             "", // "not json"
		`Bearer claims="%%%"`:                                      "",
		`Bearer error="invalid_token"`:                             "",
	} {
		if got := caeClaims(in); got != want {
			t.Errorf("caeClaims(%q) = %q, want %q", in, got, want)
		}
	}
}
