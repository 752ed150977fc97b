package fakes

import (
	"bytes"
	"net/http"
	"strconv"
)

// TokenFault is a way an OAuthServer's token endpoint misbehaves, for fault tests. A slow endpoint is
// Hold; an outage page is SetDown.
type TokenFault int32

const (
	// FaultNone answers token requests normally.
	FaultNone TokenFault = iota
	// FaultHTML answers 200 with an HTML page, as a captive portal or a sign-in page would.
	FaultHTML
	// FaultHugeBody answers 200 with a JSON-typed body of HugeBodySize bytes that is not a token response.
	FaultHugeBody
	// FaultNeverEnds answers 200 and the start of a JSON body, then sends nothing more until the client
	// hangs up: a connection that never closes.
	FaultNeverEnds
	// FaultTooMany answers 429 Too Many Requests with Retry-After: RetryAfterSeconds.
	FaultTooMany
)

// HugeBodySize is the size of a FaultHugeBody answer: 10 MiB.
const HugeBodySize = 10 << 20

// RetryAfterSeconds is the Retry-After of a FaultTooMany answer.
const RetryAfterSeconds = 30

// SetFault makes the token endpoint misbehave as f from now on; FaultNone restores it.
func (s *OAuthServer) SetFault(f TokenFault) { s.fault.Store(int32(f)) }

// serveFault answers r as the current fault dictates and reports whether it did.
func (s *OAuthServer) serveFault(w http.ResponseWriter, r *http.Request) bool {
	switch TokenFault(s.fault.Load()) {
	case FaultHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>Sign in to continue</form></body></html>\n"))
	case FaultHugeBody:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(HugeBodySize))
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		chunk[0] = '['
		for sent := 0; sent < HugeBodySize; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
			chunk[0] = ' '
		}
	case FaultNeverEnds:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"`))
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		<-r.Context().Done()
	case FaultTooMany:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		oauthError(w, http.StatusTooManyRequests, "slow_down", "too many token requests; retry later")
	default:
		return false
	}
	return true
}
