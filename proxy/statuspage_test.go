package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// getPage fetches url's status page with the given Authorization header ("" for none).
func getPage(t *testing.T, url, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// pageScenario serves a proxy whose provider "p" saw a request, a revocation (401, refresh, retry) and
// another request; it returns the proxy's URL and every token the source issued.
func pageScenario(t *testing.T, opts Options) (string, []string) {
	t.Helper()
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, opts)
	send := func() {
		req, _ := http.NewRequest(http.MethodPost, px.URL+"/p/v1/chat", strings.NewReader(`{}`))
		if len(opts.APIKeys) > 0 {
			req.Header.Set("Authorization", "Bearer "+opts.APIKeys[0])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("proxied request: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	send()
	src.revokeAll()
	send()
	src.mu.Lock()
	defer src.mu.Unlock()
	var toks []string
	for i := 1; i <= src.serial; i++ {
		toks = append(toks, fmt.Sprintf("tok-%d", i))
	}
	return px.URL, toks
}

func TestStatusPageShowsProvidersWithoutTokens(t *testing.T) {
	url, toks := pageScenario(t, Options{})
	resp, body := getPage(t, url, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status page: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`id="p-p"`, "expires in", "upstream rejected the token (401)", "closed", "fake test", "requests 2", "401s 1", "tokens fetched 2"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if len(toks) != 2 {
		t.Fatalf("source issued %d tokens, want 2 (a fetch and a refresh after the 401)", len(toks))
	}
	for _, tok := range toks {
		if strings.Contains(body, tok) {
			t.Errorf("status page shows token %s", tok)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q; the page must load nothing from elsewhere", csp)
	}
	for _, ref := range []string{" src=", " href=", "@import", "url("} {
		if strings.Contains(body, ref) {
			t.Errorf("status page loads something (%q): it must work offline with inline CSS and SVG only", ref)
		}
	}
}

func TestStatusPageNeedsAnInboundKeyWhenKeysAreSet(t *testing.T) {
	const key = "inbound-key-1"
	url, _ := pageScenario(t, Options{APIKeys: []string{key}})
	resp, body := getPage(t, url, "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("without a key: %d, WWW-Authenticate %q; want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if strings.Contains(body, `id="p-p"`) {
		t.Fatal("the 401 answer shows the providers")
	}
	for auth, want := range map[string]int{
		"Bearer " + key:   200,
		"Bearer wrong":    401,
		basic("me", key):  200, // a browser gives the key as its password
		basic(key, "nop"): 401,
	} {
		if resp, _ := getPage(t, url, auth); resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", strings.Fields(auth)[0], resp.StatusCode, want)
		}
	}
}

func TestStatusPageAnswersGETOnlyAndNotToWebPages(t *testing.T) {
	url, _ := pageScenario(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), `id="p-p"`) {
		t.Fatalf("GET / from a foreign web page: %d; want 403 without the page", resp.StatusCode)
	}
	resp, err = http.Post(url+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: %d, want 405", resp.StatusCode)
	}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.SetBasicAuth(user, pw)
	return r.Header.Get("Authorization")
}
