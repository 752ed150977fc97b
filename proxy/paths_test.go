package proxy

import (
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
)

// Dot segments that would climb above the upstream base path are refused with 400 and never sent
// upstream; dot segments that stay inside it, and ordinary paths, still pass.
func TestProxyRefusesPathsThatEscapeTheBasePath(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL+"/base/v1"))
	px := proxyFor(t, h, Options{})
	for _, p := range []string{"/p/../../admin/x", "/p/%2e%2e/%2E%2E/admin", "/p/.%2e/x", "/p/a/../../x",
		"/p/..%2f..%2fadmin", "/p/..%5c..%5cadmin", "/p/.."} {
		resp, err := http.Get(px.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", p, resp.StatusCode)
			resp.Body.Close()
			continue
		}
		if e := decodeError(t, resp); e.Error.Code != "invalid_path" {
			t.Errorf("%s: code %q", p, e.Error.Code)
		}
	}
	if n := up.requests.Load(); n != 0 {
		t.Fatalf("%d refused request(s) reached the upstream", n)
	}
	for _, p := range []string{"/p/chat/completions", "/p/a/../b", "/p/files/x..y", "/p/./models"} {
		resp, err := http.Get(px.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p, resp.StatusCode)
		}
	}
}

// Whatever escapesBase lets through stays inside the base path once a server decodes it (%2F and "\"
// taken as separators) and resolves its dot segments.
func FuzzEscapesBase(f *testing.F) {
	for _, s := range []string{"chat/completions", "../x", "%2e%2e/x", "a/../../b", "..%2f..%2fadmin", "..%5cadmin", "a/./b/..", ".%2E", "%zz/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		if escapesBase(rest) {
			return
		}
		dec, err := url.PathUnescape(rest)
		if err != nil {
			return
		}
		for _, p := range []string{rest, dec, strings.ReplaceAll(dec, `\`, "/")} {
			if got := path.Clean("/base/" + p); got != "/base" && !strings.HasPrefix(got, "/base/") {
				t.Fatalf("escapesBase(%q) = false, but %q resolves to %q", rest, p, got)
			}
		}
	})
}
