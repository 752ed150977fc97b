package core

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// bearerOf accepts exactly "Authorization: Bearer <tok>".
func bearerOf(tok string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+tok }
}

// getStatus sends a GET to url through c and returns the status.
func getStatus(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A handle, and the client and transport it gave out before a reload, use the provider as the latest
// configuration has it: after a reload moves b to another upstream, the same client sends b's token
// there. Once a reload removes b every call through the handle fails with an error naming b (and the
// request body is closed); a reload that adds b back makes the handle work again.
func TestProviderHandleFollowsReloads(t *testing.T) {
	first, second := newUpstream(t, bearerOf("tok-b")), newUpstream(t, bearerOf("tok-b"))
	h := reloadHost(t, first.URL, &lineSignal{ready: make(chan struct{})}, "a", "b")
	ctx := context.Background()
	b, err := h.Provider("b")
	if err != nil {
		t.Fatal(err)
	}
	client, tr := b.Client(), b.Transport()
	if got := getStatus(t, client, first.URL+"/x"); got != http.StatusOK {
		t.Fatalf("before the reload: status %d, want 200", got)
	}

	moved := reloadConfig(first.URL, "a", "b")
	moved.Providers[1].Upstream = second.URL
	if res, err := h.Reload(moved); err != nil || len(res.Changed) != 1 || res.Changed[0] != "b" {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if up, err := b.Upstream(ctx); err != nil || up != second.URL {
		t.Fatalf("the handle's upstream after the reload = %q (%v), want %s", up, err, second.URL)
	}
	if got := getStatus(t, client, second.URL+"/x"); got != http.StatusOK {
		t.Fatalf("a client from before the reload, to b's new upstream: status %d, want 200 (the token of the provider in effect)", got)
	}

	if _, err := h.Reload(reloadConfig(first.URL, "a")); err != nil {
		t.Fatal(err)
	}
	body, rtErr := sendBody(t, tr, second.URL+"/x")
	if rtErr != nil && body.closed.Load() != 1 {
		t.Errorf("a round trip through a removed provider closed the body %d times, want 1", body.closed.Load())
	}
	_, tokErr := b.Token(ctx)
	_, upErr := b.Upstream(ctx)
	_, loginErr := b.Login(ctx, nil)
	_, logoutErr := b.Logout(ctx)
	_, getErr := client.Get(second.URL + "/x")
	for what, err := range map[string]error{"Token": tokErr, "Upstream": upErr, "Login": loginErr, "Logout": logoutErr, "Client": getErr, "Transport": rtErr} {
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Provider != "b" || !strings.Contains(err.Error(), "provider b is no longer configured: a configuration reload removed it (configured: a)") {
			t.Errorf("%s through the handle of a removed provider: %v; want a ProviderError naming b and saying a reload removed it", what, err)
		}
	}
	if _, err := h.Provider("b"); err == nil || !strings.Contains(err.Error(), `unknown provider "b"`) {
		t.Errorf("a new handle on the removed provider: %v", err)
	}

	if _, err := h.Reload(reloadConfig(first.URL, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if tok, err := b.Token(ctx); err != nil || tok.Value != "tok-b" {
		t.Fatalf("the handle after a reload added b back: %q %v", tok.Value, err)
	}
	if got := getStatus(t, client, first.URL+"/x"); got != http.StatusOK {
		t.Fatalf("the client after a reload added b back: status %d, want 200", got)
	}
}

// A request through a handle's client holds its provider: a reload that removes the provider while the
// request waits on the upstream stops the plugin only after the request returns, so the refresh a 401
// then needs still reaches the plugin and the resend succeeds.
func TestProviderHandleHoldsProviderForTheRequest(t *testing.T) {
	arrived, answer := make(chan struct{}), make(chan struct{})
	up := newUpstream(t, bearerOf("tok-b"))
	release := sync.OnceFunc(func() { close(answer) })
	t.Cleanup(release) // before the server closes, should the test end early
	first := true
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		isFirst := first
		first = false
		up.mu.Unlock()
		if isFirst { // the first attempt waits for the reload, then is rejected
			close(arrived)
			<-answer
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-b" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}
	logs := &lineSignal{want: "provider stopped after a configuration reload", ready: make(chan struct{})}
	h := reloadHost(t, up.URL, logs, "a", "b")
	b, err := h.Provider("b")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := b.Client().Get(up.URL + "/x")
		if err != nil {
			done <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	<-arrived
	old := h.gen.Load().providers["b"]
	if _, err := h.Reload(reloadConfig(up.URL, "a")); err != nil {
		t.Fatal(err)
	}
	if held := old.uses.state.Load() &^ retiredBit; held != 1 {
		t.Fatalf("the removed provider is held by %d requests, want 1: the request in flight through the handle", held)
	}
	old.proc.mu.Lock()
	closed := old.proc.closed
	old.proc.mu.Unlock()
	if closed {
		t.Fatal("the plugin was stopped while a request through the handle held its provider")
	}
	release()
	if r := <-done; r.err != nil || r.status != http.StatusOK {
		t.Fatalf("the request that met a 401 across the reload: status %d, %v; want 200 after a refresh through the held plugin", r.status, r.err)
	}
	<-logs.ready
	old.proc.mu.Lock()
	closed = old.proc.closed
	old.proc.mu.Unlock()
	if !closed {
		t.Fatal("the removed provider's plugin was not stopped after the request returned")
	}
}
