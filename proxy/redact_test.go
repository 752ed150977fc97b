package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// A remote caller's error bodies and /providers carry no local file paths; a loopback caller still sees
// them. /providers shows the upstream without its query, whoever asks.
func TestProxyHidesLocalPathsFromRemoteCallersAndUpstreamQueries(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL+"/v1?api-version=2024-10-21&key=query-secret"))
	handler := Handler(h, Options{})
	src.setFail(sdk.Unavailable(`reading /home/alice/.codex/auth.json: permission denied (also tried C:\Users\alice\auth.json and ~/.gemini/oauth_creds.json)`))
	paths := []string{"/home/alice", "auth.json", `C:\Users`, "~/.gemini"}
	call := func(remoteAddr, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remoteAddr
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	remote := call("192.0.2.7:40000", "/p/chat/completions")
	if remote.Code != http.StatusBadGateway {
		t.Fatalf("status %d: %s", remote.Code, remote.Body)
	}
	var e openAIError
	if err := json.Unmarshal(remote.Body.Bytes(), &e); err != nil || e.Error.Code != "token_unavailable" {
		t.Fatalf("body %s (%v)", remote.Body, err)
	}
	for _, p := range paths {
		if strings.Contains(e.Error.Message, p) {
			t.Errorf("remote error body %q contains the local path %q", e.Error.Message, p)
		}
	}
	if !strings.Contains(e.Error.Message, "permission denied") {
		t.Errorf("remote error body %q lost the reason", e.Error.Message)
	}
	local := call("127.0.0.1:40000", "/p/chat/completions")
	if !strings.Contains(local.Body.String(), "/home/alice/.codex/auth.json") {
		t.Errorf("a loopback caller should still see the path: %s", local.Body)
	}
	for _, addr := range []string{"192.0.2.7:40000", "127.0.0.1:40000"} {
		rec := call(addr, "/providers")
		var ps []providerJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &ps); err != nil || len(ps) != 1 {
			t.Fatalf("/providers = %s (%v)", rec.Body, err)
		}
		if ps[0].Upstream != up.URL+"/v1" {
			t.Errorf("%s: /providers upstream = %q, want it without the query", addr, ps[0].Upstream)
		}
		if ps[0].LastError == "" {
			t.Errorf("%s: /providers lost the last error", addr)
		}
		if addr != "127.0.0.1:40000" && strings.Contains(ps[0].LastError, "/home/alice") {
			t.Errorf("/providers shows a remote caller the local path: %q", ps[0].LastError)
		}
	}
}
