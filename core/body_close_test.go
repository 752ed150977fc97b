package core

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// recordingBody is a request body that records how often it was closed.
type recordingBody struct {
	io.Reader
	closed atomic.Int32
}

func (b *recordingBody) Close() error { b.closed.Add(1); return nil }

// sendBody sends a POST whose body records Close straight through the transport (no http.Client, which
// would close the body itself) and returns the body and the round trip's error.
func sendBody(t *testing.T, rt http.RoundTripper, url string) (*recordingBody, error) {
	t.Helper()
	body := &recordingBody{Reader: strings.NewReader(`{"a":1}`)}
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.GetBody = nil
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return body, err
}

// RoundTrip closes the request body on every error path, as http.RoundTripper
// requires: an open upstream breaker, a failed token fetch, a failed refresh after a 401.
func TestRoundTripClosesBodyOnEveryError(t *testing.T) {
	t.Run("upstream breaker open", func(t *testing.T) {
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		up.status.Store(503)
		pc := testProvider(up.URL)
		pc.MaxReplayBytes = 2 // not buffered (buffering would close the body early)
		h, _ := newTestHost(t, src, pc, nil, nil)
		rt, _ := h.transportOf("p")
		for range 3 {
			if _, err := sendBody(t, rt, up.URL); err != nil {
				t.Fatal(err)
			}
		}
		body, err := sendBody(t, rt, up.URL)
		var open *BreakerOpenError
		if !errors.As(err, &open) {
			t.Fatalf("err = %v, want an open breaker", err)
		}
		if body.closed.Load() == 0 {
			t.Fatal("the request body was not closed when the open breaker refused the request")
		}
	})
	t.Run("token fetch fails", func(t *testing.T) {
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		src.setFail(sdk.Unavailable("token endpoint answered 503"))
		h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
		rt, _ := h.transportOf("p")
		body, err := sendBody(t, rt, up.URL)
		if err == nil || body.closed.Load() == 0 {
			t.Fatalf("err = %v, closes = %d; want an error and a closed body", err, body.closed.Load())
		}
	})
	t.Run("refresh after a 401 fails", func(t *testing.T) {
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		h, _ := newTestHost(t, src, testProvider(up.URL), nil, nil)
		rt, _ := h.transportOf("p")
		if _, err := sendBody(t, rt, up.URL); err != nil {
			t.Fatal(err)
		}
		src.revokeAll()
		src.setFail(sdk.Unavailable("token endpoint answered 503"))
		body, err := sendBody(t, rt, up.URL)
		if err == nil || body.closed.Load() == 0 {
			t.Fatalf("err = %v, closes = %d; want an error and a closed body", err, body.closed.Load())
		}
	})
	t.Run("resend refused by a breaker that opened meanwhile", func(t *testing.T) {
		src := newFakeSource(time.Hour, time.Now)
		up := newUpstream(t, bearerValid(src))
		pc := testProvider(up.URL)
		pc.Breaker.Failures = 1
		h, p := newTestHost(t, src, pc, nil, nil)
		rt, _ := h.transportOf("p")
		if _, err := sendBody(t, rt, up.URL); err != nil {
			t.Fatal(err)
		}
		src.revokeAll()
		// The refresh trips the upstream breaker before the resend goes out.
		fetch := p.cache.fetch
		p.cache.fetch = func(ctx context.Context, stale *sdk.Token) (sdk.Token, error) {
			tok, err := fetch(ctx, stale)
			up.status.Store(503)
			if r, e := sendBody(t, rt, up.URL); e != nil || r.closed.Load() == 0 {
				t.Errorf("tripping request: %v", e)
			}
			return tok, err
		}
		var bodies []*recordingBody
		body := &recordingBody{Reader: strings.NewReader(`{"a":1}`)}
		req, _ := http.NewRequest(http.MethodPost, up.URL, body)
		req.GetBody = func() (io.ReadCloser, error) {
			b := &recordingBody{Reader: strings.NewReader(`{"a":1}`)}
			bodies = append(bodies, b)
			return b, nil
		}
		_, err := rt.RoundTrip(req)
		var open *BreakerOpenError
		if !errors.As(err, &open) {
			t.Fatalf("err = %v, want the resend refused by the open breaker", err)
		}
		for i, b := range bodies {
			if b.closed.Load() == 0 {
				t.Fatalf("replayed body %d was not closed", i)
			}
		}
	})
}
