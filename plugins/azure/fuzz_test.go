package azure

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzFromResponse feeds arbitrary Entra ID error answers to the error mapper: it must not panic, must
// always produce an error of one line without control characters, and must never quote the client secret,
// even when the endpoint echoes it back.
func FuzzFromResponse(f *testing.F) {
	const secret = "fuzz-client-secret-0123456789"
	for _, seed := range []struct {
		status int
		body   string
	}{
		{401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"correlation_id":"0f2a3b4c-1111-2222-3333-444455556666"}`},
		{400, `{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found.","error_codes":[90002]}`},
		{400, `{"error":"invalid_client","error_description":"secret ` + secret + ` is wrong"}`},
		{503, `<html>down</html>`}, {500, ``}, {200, `{}`}, {401, `{"error_codes":"x"}`},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	cfg := &config{kind: CredentialClientSecret, tenantID: "tenant", clientID: "client", secret: secret, scope: DefaultScope}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 400
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)),
			Request: &http.Request{Method: http.MethodPost}}
		err := fromResponse(resp, cfg)
		if err == nil {
			t.Fatal("an error answer produced no error")
		}
		msg := err.Error()
		if strings.Contains(msg, secret) {
			t.Fatal("the client secret reached the error message")
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("control characters in %q", msg)
		}
	})
}
