package cooldown

import (
	"net/http"
	"time"
)

// Reset is when a rate-limited member may be tried again and what said so.
type Reset struct {
	// Until is when the member may be tried again.
	Until time.Time
	// Source names what gave Until: one of the Source constants.
	Source string
}

// The sources of a Reset.
const (
	// SourceRetryAfter is the Retry-After header, in seconds or as an HTTP date.
	SourceRetryAfter = "retry-after"
	// SourceRetryAfterMs is the retry-after-ms header.
	SourceRetryAfterMs = "retry-after-ms"
	// SourceResetRequests is the x-ratelimit-reset-requests header.
	SourceResetRequests = "x-ratelimit-reset-requests"
	// SourceResetTokens is the x-ratelimit-reset-tokens header.
	SourceResetTokens = "x-ratelimit-reset-tokens"
	// SourceUsageLimit is the ChatGPT backend's usage_limit_reached body.
	SourceUsageLimit = "usage_limit_reached"
	// SourceRetryInfo is a Google error body's google.rpc.RetryInfo detail.
	SourceRetryInfo = "google.rpc.RetryInfo"
	// SourceDefault is Backoff's rest for an answer that names none.
	SourceDefault = "default"
)

// MaxCooldown bounds every reset (24 hours): a member whose window is longer (a weekly usage limit) is
// tried once a day, which costs one 429 a day, while a wrong clock or a wrong value cannot rest a member
// for longer.
const MaxCooldown = 24 * time.Hour

// MaxBody is how much of an answer's body FromResponse reads (64 KiB); the rest is ignored.
const MaxBody = 64 << 10

// maxValue bounds the length of a header value worth parsing; a longer one is garbage.
const maxValue = 64

// latest keeps the latest reset offered to it, as a delay from now.
type latest struct {
	d   time.Duration
	src string
}

// offer considers a rest of d named by src: a rest of zero or less names none, and one beyond
// MaxCooldown is cut to it; of equal rests the first offered is kept.
func (l *latest) offer(d time.Duration, src string) {
	if d <= 0 {
		return
	}
	d = min(d, MaxCooldown)
	if d > l.d {
		l.d, l.src = d, src
	}
}

// FromResponse reads a 429 answer (headers and up to the first 64 KiB of body, which the caller keeps
// replayable) and returns its reset; ok is false when the answer names none.
func FromResponse(h http.Header, body []byte, now time.Time) (Reset, bool) {
	var l latest
	for _, v := range h.Values("Retry-After") {
		l.offer(retryAfter(v, now), SourceRetryAfter)
	}
	for _, v := range h.Values("Retry-After-Ms") {
		if d, ok := number(v, time.Millisecond); ok {
			l.offer(d, SourceRetryAfterMs)
		}
	}
	for _, v := range h.Values("X-Ratelimit-Reset-Requests") {
		if d, ok := duration(v); ok {
			l.offer(d, SourceResetRequests)
		}
	}
	for _, v := range h.Values("X-Ratelimit-Reset-Tokens") {
		if d, ok := duration(v); ok {
			l.offer(d, SourceResetTokens)
		}
	}
	if len(body) > MaxBody {
		body = body[:MaxBody]
	}
	fromBody(&l, body, now)
	if l.d <= 0 {
		return Reset{}, false
	}
	return Reset{Until: now.Add(l.d), Source: l.src}, true
}

// retryAfter reads a Retry-After value, delay seconds or an HTTP date, as a delay from now (0: none).
func retryAfter(v string, now time.Time) time.Duration {
	if d, ok := number(v, time.Second); ok {
		return d
	}
	if len(v) > maxValue {
		return 0
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return t.Sub(now) // Sub saturates rather than overflows; offer cuts it to MaxCooldown
}

// Backoff returns the exponential default for the n-th consecutive 429 without a reset: 1 s for the
// first (and for n below 1), doubling with each one after it (2 s, 4 s, … 256 s for the ninth), and
// 5 minutes from the tenth on.
func Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 10 {
		return MaxBackoff
	}
	return min(time.Second<<(n-1), MaxBackoff)
}

// MaxBackoff is the longest rest Backoff gives (5 minutes).
const MaxBackoff = 5 * time.Minute

// Default returns the reset of the n-th consecutive 429 that named none: Backoff(n) from now.
func Default(n int, now time.Time) Reset {
	return Reset{Until: now.Add(Backoff(n)), Source: SourceDefault}
}
