package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The proxy sends a request body upstream as the client sends it: the upstream reads the first part
// while the client has not yet written the rest. (Before, up to max_replay_bytes were buffered first.)
func TestProxyStreamsRequestBodiesAsTheyArrive(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	gotFirst := make(chan struct{})
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, len("part one;"))
		if _, err := io.ReadFull(r.Body, first); err != nil || string(first) != "part one;" {
			t.Errorf("first part %q, %v", first, err)
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		w.Write(append(first, rest...))
	}
	h := newTestHost(t, src, testProvider(up.URL))
	px := proxyFor(t, h, Options{})
	pr, pw := io.Pipe()
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post(px.URL+"/p/upload", "text/plain", pr) // unknown length: chunked
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	pw.Write([]byte("part one;"))
	guard := time.NewTimer(10 * time.Second) // hang guard only
	defer guard.Stop()
	select {
	case <-gotFirst:
	case <-guard.C:
		pw.CloseWithError(io.ErrUnexpectedEOF)
		t.Fatal("the upstream did not get the first part of the body before the client sent the rest: the proxy buffers request bodies")
	}
	pw.Write([]byte("part two"))
	pw.Close()
	if res := <-done; res.err != nil || res.body != "part one;part two" {
		t.Fatalf("answer %q, %v", res.body, res.err)
	}
}

// A streamed body (unknown length, within max_replay_bytes) is resent whole after a 401, whether the
// upstream read all of it, part of it or none of it before rejecting the token.
func TestProxyReplaysAStreamedBodyAfter401(t *testing.T) {
	for _, readFirst := range []int{-1, 3, 0} { // -1: all
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		var mu sync.Mutex
		var bodies []string
		up.handler = func(w http.ResponseWriter, r *http.Request) {
			if !bearerValid(src)(r) {
				if readFirst < 0 {
					io.ReadAll(r.Body)
				} else {
					io.ReadFull(r.Body, make([]byte, readFirst))
				}
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.Write(b)
		}
		h := newTestHost(t, src, testProvider(up.URL))
		px := proxyFor(t, h, Options{})
		if r, err := http.Get(px.URL + "/p/warm"); err == nil {
			r.Body.Close()
		}
		src.revokeAll()
		body := strings.Repeat("0123456789", 1000)
		resp, err := http.Post(px.URL+"/p/x", "text/plain", io.MultiReader(strings.NewReader(body))) // chunked
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("upstream read %d byte(s) before its 401: status %d, %d byte(s) came back", readFirst, resp.StatusCode, len(got))
		}
	}
}

// A body larger than max_replay_bytes streams through but is not resent: the 401 comes back, the
// upstream saw the body once, and nothing beyond max_replay_bytes was kept.
func TestProxyDoesNotReplayBodiesBeyondTheLimit(t *testing.T) {
	for _, chunked := range []bool{true, false} {
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		var mu sync.Mutex
		var seen []int
		up.handler = func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seen = append(seen, len(b))
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
		}
		pc := testProvider(up.URL)
		pc.MaxReplayBytes = 64
		h := newTestHost(t, src, pc)
		px := proxyFor(t, h, Options{})
		body := bytes.Repeat([]byte("x"), 1000)
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd)
		}
		resp, err := http.Post(px.URL+"/p/x", "text/plain", rd)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		if resp.StatusCode != http.StatusUnauthorized || len(seen) != 1 || seen[0] != len(body) {
			t.Errorf("chunked %v: status %d, upstream saw bodies of %v bytes; want one 401 for one whole body", chunked, resp.StatusCode, seen)
		}
		mu.Unlock()
	}
}
