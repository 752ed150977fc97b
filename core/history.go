package core

import (
	"sync"
	"time"
)

// Why a token was fetched from the plugin: the reason Status shows for the last refresh and the
// tokenhost.reason attribute of its trace span.
const (
	// ReasonCold is a fetch while nothing was cached (the first request after the host started).
	ReasonCold = "cold"
	// ReasonAhead is a background refresh inside refresh_before of expiry.
	ReasonAhead = "ahead"
	// ReasonExpired is a fetch after the cached token expired with no refresh ahead in time.
	ReasonExpired = "expired"
	// ReasonRejected is a refresh after the upstream rejected the token (a status in retry_statuses).
	ReasonRejected = "401"
	// ReasonStepUp is a refresh after the upstream answered 403 with a Bearer challenge whose error is
	// insufficient_scope: the plugin is asked for a token with the scope the challenge names.
	ReasonStepUp = "insufficient_scope"
)

// recentErrorsKept is how many of a provider's last errors Status shows.
const recentErrorsKept = 5

// TimedError is one error a provider met, already free of secrets.
type TimedError struct {
	// At is when it happened.
	At time.Time
	// Message is the error's text.
	Message string
}

// refreshNote is the last successful fetch: when and why.
type refreshNote struct {
	at     time.Time
	reason string
}

// recentErrors keeps a provider's last few distinct errors; it is written only when a fetch or start
// fails, never on the hot path.
type recentErrors struct {
	mu   sync.Mutex
	errs []TimedError
}

// note remembers msg at now; a repeat of the newest message only updates its time.
func (r *recentErrors) note(now time.Time, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.errs); n > 0 && r.errs[n-1].Message == msg {
		r.errs[n-1].At = now
		return
	}
	r.errs = append(r.errs, TimedError{At: now, Message: msg})
	if len(r.errs) > recentErrorsKept {
		r.errs = r.errs[len(r.errs)-recentErrorsKept:]
	}
}

// list returns the remembered errors, newest first.
func (r *recentErrors) list() []TimedError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TimedError, len(r.errs))
	for i, e := range r.errs {
		out[len(out)-1-i] = e
	}
	return out
}
