package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A web page cannot use the loopback proxy: foreign Host values (DNS rebinding) and Origins not in
// allowed_origins get 403 and nothing reaches the upstream; preflights are answered by the proxy; the
// upstream's own CORS headers never reach the browser.
func TestProxyRefusesWebPagesOnLoopback(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}
	h := newTestHost(t, src, testProvider(up.URL+"/v1"))
	px := proxyFor(t, h, Options{AllowedOrigins: []string{"https://app.example.com"}})
	port := px.URL[strings.LastIndex(px.URL, ":"):]
	do := func(method, host, origin string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, px.URL+"/p/chat/completions", strings.NewReader(`{}`))
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	refused := []struct {
		name, method, host, origin, code string
	}{
		{"rebound DNS name", http.MethodPost, "attacker.example" + port, "", "host_not_allowed"},
		{"rebound name without port", http.MethodGet, "attacker.example", "", "host_not_allowed"},
		{"localhost lookalike", http.MethodGet, "localhost.attacker.example" + port, "", "host_not_allowed"},
		{"cross-site simple POST", http.MethodPost, "", "https://attacker.example", "origin_not_allowed"},
		{"opaque origin", http.MethodPost, "", "null", "origin_not_allowed"},
		{"preflight from a foreign origin", http.MethodOptions, "", "https://attacker.example", "origin_not_allowed"},
	}
	for _, c := range refused {
		resp := do(c.method, c.host, c.origin)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, resp.StatusCode)
			continue
		}
		if e := decodeError(t, resp); e.Error.Code != c.code {
			t.Errorf("%s: code %q, want %q", c.name, e.Error.Code, c.code)
		}
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s: refused answer carries Access-Control-Allow-Origin %q", c.name, v)
		}
	}
	pre := do(http.MethodOptions, "", "https://app.example.com", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, x-stainless-os")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		pre.Header.Get("Access-Control-Allow-Headers") != "content-type, x-stainless-os" || pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight from an allowed origin: %d %v", pre.StatusCode, pre.Header)
	}
	if bare := do(http.MethodOptions, "", ""); bare.StatusCode != http.StatusNoContent {
		t.Errorf("OPTIONS without Origin: %d, want 204 from the proxy", bare.StatusCode)
	}
	if n := up.requests.Load(); n != 0 {
		t.Fatalf("%d refused or preflight request(s) reached the upstream", n)
	}
	for _, host := range []string{"", "localhost" + port, "LOCALHOST", "127.0.0.2" + port, "[::1]" + port} {
		if resp := do(http.MethodPost, host, ""); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("Host %q: %d, Access-Control-Allow-Origin %q; want 200 without the upstream's CORS headers", host, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	ok := do(http.MethodPost, "", "https://App.Example.com")
	if ok.StatusCode != 200 || ok.Header.Get("Access-Control-Allow-Origin") != "https://App.Example.com" || ok.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("allowed origin: %d %v", ok.StatusCode, ok.Header)
	}
}
