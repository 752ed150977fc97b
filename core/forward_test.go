package core

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// ForwardTransport sets the credential on the request the caller handed over (no copy), replacing the
// caller's own value; after a 401 it resends once with the refreshed token and the replayed body, each
// attempt carrying exactly one credential and the token's extra headers.
func TestForwardTransportSetsTokenInPlaceAndResends(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	src.headers = map[string]string{"chatgpt-account-id": "acct-1"}
	up := newUpstream(t, bearerValid(src))
	h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
	ref, err := hostapi.Of(h).Acquire("p")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Release()
	tr := ref.ForwardTransport()
	send := func() *http.Request {
		t.Helper()
		body := []byte(`{"a":1}`)
		req, _ := http.NewRequest(http.MethodPost, up.URL+"/x", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer caller-own")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		return req
	}
	req := send()
	if got := req.Header.Values("Authorization"); len(got) != 1 || got[0] == "Bearer caller-own" {
		t.Fatal("the handed-over request does not carry the provider's credential in place of the caller's")
	}

	src.revokeAll() // 401 → refresh → resend
	up.mu.Lock()
	before := len(up.seen)
	up.mu.Unlock()
	send()
	checkResent(t, up, before)
}

// checkResent checks the upstream's requests after the first before: a rejected attempt and one resend,
// each carrying exactly one credential — not the caller's "Bearer caller-own" — and the token's extra
// header (Chatgpt-Account-Id: acct-1), the resend a different token.
func checkResent(t *testing.T, up *upstream, before int) {
	t.Helper()
	up.mu.Lock()
	defer up.mu.Unlock()
	attempts := up.seen[before:]
	if len(attempts) != 2 {
		t.Fatalf("attempts = %d, want 2 (the rejected one and one resend)", len(attempts))
	}
	for _, hd := range attempts {
		if v := hd.Values("Authorization"); len(v) != 1 || v[0] == "Bearer caller-own" {
			t.Fatal("the caller's Authorization was merged or kept")
		}
		if hd.Get("Chatgpt-Account-Id") != "acct-1" {
			t.Fatal("Token.Headers missing on an attempt")
		}
	}
	if attempts[0].Get("Authorization") == attempts[1].Get("Authorization") {
		t.Fatal("the resend carried the rejected token")
	}
}
