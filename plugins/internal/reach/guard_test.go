package reach

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// public treats 127.0.0.2 as a public address, so that a loopback server can play one on the internet.
func public(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.2") || IsPublic(a) }

// counted is a loopback test server on ip that answers body and counts its connections.
type counted struct {
	*httptest.Server
	conns atomic.Int32
}

func serve(t *testing.T, ip, body string) *counted {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counted{Server: httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))}
	c.Listener.Close()
	c.Listener = l
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

func get(ctx context.Context, rt http.RoundTripper, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func plain() *http.Transport { return &http.Transport{} }

// TestLearnedKeepsAPublicServerToPublicAddresses: once the server answered from a public address, a
// learned URL on a private address, literal or by name, gets no connection and a *Refused naming it,
// which Watch also reports; public addresses are reached.
func TestLearnedKeepsAPublicServerToPublicAddresses(t *testing.T) {
	srv := serve(t, "127.0.0.2", "server")
	priv := serve(t, "127.0.0.1", "private")
	g := New(srv.URL+"/mcp", WithPublic(public))
	if body, err := get(t.Context(), g.Origin(plain()), srv.URL); err != nil || body != "server" {
		t.Fatalf("origin request: %q %v", body, err)
	}
	learned := g.Learned(plain())
	for _, u := range []string{priv.URL, strings.Replace(priv.URL, "127.0.0.1", "localhost", 1)} {
		ctx, refused := Watch(t.Context())
		_, err := get(ctx, learned, u)
		var r *Refused
		if !errors.As(err, &r) || r.Server != netip.MustParseAddr("127.0.0.2") || refused() == nil || refused().Host != r.Host {
			t.Fatalf("learned request to %s: %v (watched %v); want a *Refused", u, err, refused())
		}
		if !strings.Contains(r.Error(), "a private or reserved address") || strings.Contains(r.Error(), "/") {
			t.Errorf("refusal %q: want the reason, and no URL path", r)
		}
	}
	if n := priv.conns.Load(); n != 0 {
		t.Errorf("the private server got %d connections; want none", n)
	}
	if body, err := get(t.Context(), learned, srv.URL+"/as"); err != nil || body != "server" {
		t.Errorf("learned request to a public address: %q %v", body, err)
	}
}

// TestLearnedLetsAPrivateServerReachPrivate: a server reached at a private address changes nothing, and a
// server not reached yet is classified by the addresses its name resolves to.
func TestLearnedLetsAPrivateServerReachPrivate(t *testing.T) {
	priv := serve(t, "127.0.0.1", "private")
	g := New(priv.URL, WithPublic(public))
	if _, err := get(t.Context(), g.Origin(plain()), priv.URL); err != nil {
		t.Fatal(err)
	}
	if body, err := get(t.Context(), g.Learned(plain()), strings.Replace(priv.URL, "127.0.0.1", "localhost", 1)); err != nil || body != "private" {
		t.Fatalf("a private server's learned URL on a private address: %q %v", body, err)
	}
	unreached := New("http://127.0.0.2:1/mcp", WithPublic(public))
	var r *Refused
	if _, err := get(t.Context(), unreached.Learned(plain()), priv.URL); !errors.As(err, &r) {
		t.Fatalf("a server not reached yet whose address is public: %v; want a *Refused", err)
	}
}

// TestLearnedThroughAProxy: with a proxy, the target's name is resolved before the request and a private
// one is refused without the proxy being contacted; a public target goes through the proxy, itself on a
// private address the user configured.
func TestLearnedThroughAProxy(t *testing.T) {
	srv := serve(t, "127.0.0.2", "server")
	priv := serve(t, "127.0.0.1", "private")
	proxy := serve(t, "127.0.0.1", "proxied")
	g := New(srv.URL, WithPublic(public))
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := func() *http.Transport { return &http.Transport{Proxy: http.ProxyURL(pu)} }
	if body, err := get(t.Context(), g.Origin(viaProxy()), srv.URL); err != nil || body != "proxied" {
		t.Fatalf("origin request through the proxy: %q %v", body, err)
	}
	var r *Refused
	if _, err := get(t.Context(), g.Learned(viaProxy()), strings.Replace(priv.URL, "127.0.0.1", "localhost", 1)); !errors.As(err, &r) {
		t.Fatalf("learned request to a private name through the proxy: %v; want a *Refused", err)
	}
	if n := proxy.conns.Load(); n != 1 {
		t.Errorf("the proxy got %d connections; want only the origin request's", n)
	}
	if body, err := get(t.Context(), g.Learned(viaProxy()), srv.URL+"/as"); err != nil || body != "proxied" {
		t.Errorf("learned request to a public address through the proxy: %q %v", body, err)
	}
}
