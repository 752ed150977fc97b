package proxy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// hangingSource never hands out a token: every call waits until its context ends.
type hangingSource struct{ *fakeSource }

func (hangingSource) Token(ctx context.Context) (sdk.Token, error) {
	<-ctx.Done()
	return sdk.Token{}, ctx.Err()
}

// A plugin's Internal error surfaces with its own message (never "circuit open", even
// after more than breaker.failures requests), and a fetch that outlives fetch_timeout is a 504 with its
// own code, not 502 upstream_unreachable.
func TestProxyPluginInternalAndFetchTimeout(t *testing.T) {
	t.Run("internal", func(t *testing.T) {
		src := newFakeSource(time.Hour, time.Now)
		src.setFail(sdk.Internal("auth.json is corrupt; run `fake login` to rewrite it"))
		up := newUpstream(t, bearerValid(src))
		h := newTestHost(t, src, testProvider(up.URL))
		px := proxyFor(t, h, Options{})
		for i := range 6 {
			resp, err := http.Get(px.URL + "/p/x")
			if err != nil {
				t.Fatal(err)
			}
			e := decodeError(t, resp)
			if resp.StatusCode != 502 || e.Error.Code != "plugin_error" || !strings.Contains(e.Error.Message, "auth.json is corrupt") ||
				strings.Count(e.Error.Message, "provider p:") != 1 {
				t.Fatalf("request %d: %d %+v, want 502 plugin_error with the plugin's message", i, resp.StatusCode, e)
			}
		}
	})
	t.Run("fetch timeout", func(t *testing.T) {
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		pc := testProvider(up.URL)
		pc.FetchTimeout = time.Millisecond
		h := newTestHost(t, hangingSource{src}, pc)
		px := proxyFor(t, h, Options{})
		resp, err := http.Get(px.URL + "/p/x")
		if err != nil {
			t.Fatal(err)
		}
		e := decodeError(t, resp)
		if resp.StatusCode != 504 || e.Error.Code != "token_fetch_timeout" || !strings.Contains(e.Error.Message, "providers.p.fetch_timeout") {
			t.Fatalf("got %d %+v, want 504 token_fetch_timeout naming providers.p.fetch_timeout", resp.StatusCode, e)
		}
	})
}
