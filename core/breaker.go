package core

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// errBadStatus marks an upstream response whose status counts as a breaker failure (502/503/504).
var errBadStatus = errors.New("upstream answered a gateway error")

// errCallerFault marks a failed round trip the caller caused; the breaker excludes it from its counts.
var errCallerFault = errors.New("the request failed on the caller's side")

// upstreamBreaker guards a provider's upstream round trips with gobreaker's two-step breaker. gobreaker
// takes a mutex per request, so while the breaker is closed and nothing has failed since the last success
// the transport skips it entirely and only reports outcomes once something fails: the hot path stays
// lock-free and the counting semantics (consecutive failures) stay gobreaker's.
type upstreamBreaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[*http.Response]
	state   atomic.Int32 // gobreaker.State
	dirty   atomic.Bool  // a failure was reported and no success since
	retryAt atomic.Int64 // unix nano when an open breaker lets a probe through
	name    string
}

func newBreakerSettings(name string, cfg config.Breaker, onChange func(to gobreaker.State)) gobreaker.Settings {
	failures := uint32(max(cfg.Failures, 1))
	return gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // half-open: one probe
		Timeout:     cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			onChange(to)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) || errors.Is(err, errCallerFault) },
	}
}

func newUpstreamBreaker(provider string, cfg config.Breaker, onChange func(gobreaker.State)) *upstreamBreaker {
	b := &upstreamBreaker{name: provider}
	openFor := cfg.OpenFor
	b.cb = gobreaker.NewTwoStepCircuitBreaker[*http.Response](newBreakerSettings(provider+"/upstream", cfg, func(to gobreaker.State) {
		if to == gobreaker.StateOpen {
			b.retryAt.Store(time.Now().Add(openFor).UnixNano())
		}
		b.state.Store(int32(to))
		if onChange != nil {
			onChange(to)
		}
	}))
	return b
}

// roundTrip sends req through base under the breaker. A refused request's body is closed, as base
// would have closed it.
func (b *upstreamBreaker) roundTrip(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	if gobreaker.State(b.state.Load()) == gobreaker.StateClosed && !b.dirty.Load() {
		resp, err := base.RoundTrip(req)
		if outcome := classify(req, resp, err); outcome != nil && outcome != errCallerFault {
			if done, aerr := b.cb.Allow(); aerr == nil {
				done(outcome)
				b.dirty.Store(true)
			}
		}
		return resp, err
	}
	done, err := b.cb.Allow()
	if err != nil {
		closeBody(req)
		return nil, &BreakerOpenError{Provider: b.name, What: "upstream", RetryAt: time.Unix(0, b.retryAt.Load())}
	}
	resp, err := base.RoundTrip(req)
	outcome := classify(req, resp, err)
	done(outcome)
	if outcome == nil {
		b.dirty.Store(false)
	}
	return resp, err
}

// classify turns a round trip's result into the breaker's view: nil for success, errCallerFault for a
// failure the caller caused (excluded from the counts), any other error for a failure of the upstream.
func classify(req *http.Request, resp *http.Response, err error) error {
	if err != nil {
		if req.Context().Err() != nil || !upstreamFault(err) {
			return errCallerFault
		}
		return err
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return errBadStatus
	}
	return nil
}

// upstreamFault reports whether a transport error was caused by the upstream or the way to it: a network
// error (refused or reset connection, DNS, the transport's own timeouts — all net.Error), a TLS failure,
// or a connection closed before the response. Everything else — a malformed request, a caller's body
// that failed to read, a cancelled or expired context — is the caller's.
func upstreamFault(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var (
		netErr    net.Error
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
	)
	return errors.As(err, &netErr) || errors.As(err, &verifyErr) || errors.As(err, &recordErr) ||
		errors.As(err, &alertErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// State returns the breaker's state.
func (b *upstreamBreaker) State() gobreaker.State { return gobreaker.State(b.state.Load()) }

// tokenBreaker guards token fetches from the plugin, so a dead identity provider is not hammered.
type tokenBreaker struct {
	cb      *gobreaker.CircuitBreaker[sdk.Token]
	retryAt atomic.Int64
	name    string
}

func newTokenBreaker(provider string, cfg config.Breaker, onChange func(gobreaker.State)) *tokenBreaker {
	b := &tokenBreaker{name: provider}
	st := newBreakerSettings(provider+"/token", cfg, func(to gobreaker.State) {
		if to == gobreaker.StateOpen {
			b.retryAt.Store(time.Now().Add(cfg.OpenFor).UnixNano())
		}
		if onChange != nil {
			onChange(to)
		}
	})
	// Only an unavailable endpoint and a fetch that timed out say something about the endpoint's health;
	// everything else (the user must sign in again, a config mistake, a corrupt credential file, a
	// crashed plugin) is excluded, so its own message reaches the user instead of "circuit open".
	st.IsExcluded = func(err error) bool { return !endpointFault(err) }
	b.cb = gobreaker.NewCircuitBreaker[sdk.Token](st)
	return b
}

// endpointFault reports whether a token fetch failed because of the identity provider: the plugin said
// it is unavailable, or the fetch ran out of fetch_timeout.
func endpointFault(err error) bool {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Kind == sdk.KindUnavailable
	}
	var timeout *FetchTimeoutError
	return errors.As(err, &timeout)
}

// do runs fetch under the breaker.
func (b *tokenBreaker) do(fetch func() (sdk.Token, error)) (sdk.Token, error) {
	tok, err := b.cb.Execute(fetch)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return sdk.Token{}, &BreakerOpenError{Provider: b.name, What: "token endpoint", RetryAt: time.Unix(0, b.retryAt.Load())}
	}
	return tok, err
}

// State returns the breaker's state.
func (b *tokenBreaker) State() gobreaker.State { return b.cb.State() }
