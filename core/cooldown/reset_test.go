package cooldown

import (
	"net/http"
	"testing"
	"time"
)

// now is the fixed instant the parsing tests read answers at.
var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func TestFromResponse(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name string
		h    http.Header
		body string
		want time.Duration // rest from now; 0: ok is false
		src  string
	}{
		{"retry-after seconds", hdr("Retry-After", "20"), "", 20 * time.Second, SourceRetryAfter},
		{"retry-after fraction", hdr("Retry-After", "1.5"), "", 1500 * time.Millisecond, SourceRetryAfter},
		{"retry-after spaces", hdr("Retry-After", " 7 "), "", 7 * time.Second, SourceRetryAfter},
		{"retry-after http date", hdr("Retry-After", "Mon, 07 Dec 2026 12:01:30 GMT"), "", 90 * time.Second, SourceRetryAfter},
		{"retry-after rfc850 date", hdr("Retry-After", "Monday, 07-Dec-26 12:00:10 GMT"), "", 10 * time.Second, SourceRetryAfter},
		{"retry-after asctime date", hdr("Retry-After", "Mon Dec  7 12:00:05 2026"), "", 5 * time.Second, SourceRetryAfter},
		{"retry-after date passed", hdr("Retry-After", "Mon, 07 Dec 2026 11:59:00 GMT"), "", 0, ""},
		{"retry-after date now", hdr("Retry-After", "Mon, 07 Dec 2026 12:00:00 GMT"), "", 0, ""},
		{"retry-after date next year", hdr("Retry-After", "Tue, 07 Dec 2027 12:00:00 GMT"), "", MaxCooldown, SourceRetryAfter},
		{"retry-after zero", hdr("Retry-After", "0"), "", 0, ""},
		{"retry-after negative", hdr("Retry-After", "-30"), "", 0, ""},
		{"retry-after absurd", hdr("Retry-After", "99999999999999999999999"), "", MaxCooldown, SourceRetryAfter},
		{"retry-after garbage", hdr("Retry-After", "soon"), "", 0, ""},
		{"retry-after not a float form", hdr("Retry-After", "1e3"), "", 0, ""},
		{"retry-after inf", hdr("Retry-After", "Inf"), "", 0, ""},
		{"retry-after-ms", hdr("Retry-After-Ms", "250"), "", 250 * time.Millisecond, SourceRetryAfterMs},
		{"retry-after-ms fraction", hdr("retry-after-ms", "20.5"), "", 20500 * time.Microsecond, SourceRetryAfterMs},
		{"retry-after-ms garbage", hdr("Retry-After-Ms", "20ms"), "", 0, ""},
		{"reset-requests 1s", hdr("X-Ratelimit-Reset-Requests", "1s"), "", time.Second, SourceResetRequests},
		{"reset-requests 6m0s", hdr("X-Ratelimit-Reset-Requests", "6m0s"), "", 6 * time.Minute, SourceResetRequests},
		{"reset-tokens 20ms", hdr("X-Ratelimit-Reset-Tokens", "20ms"), "", 20 * time.Millisecond, SourceResetTokens},
		{"reset-tokens 1m30.5s", hdr("x-ratelimit-reset-tokens", "1m30.5s"), "", 90500 * time.Millisecond, SourceResetTokens},
		{"reset-tokens 1h2m3s", hdr("X-Ratelimit-Reset-Tokens", "1h2m3s"), "", time.Hour + 2*time.Minute + 3*time.Second, SourceResetTokens},
		{"reset-tokens micro", hdr("X-Ratelimit-Reset-Tokens", "1500µs"), "", 1500 * time.Microsecond, SourceResetTokens},
		{"reset-tokens bare seconds", hdr("X-Ratelimit-Reset-Tokens", "3"), "", 3 * time.Second, SourceResetTokens},
		{"reset-tokens negative", hdr("X-Ratelimit-Reset-Tokens", "-5s"), "", 0, ""},
		{"reset-tokens zero", hdr("X-Ratelimit-Reset-Tokens", "0s"), "", 0, ""},
		{"reset-tokens beyond a Go duration", hdr("X-Ratelimit-Reset-Tokens", "999999999999h"), "", MaxCooldown, SourceResetTokens},
		{"reset-tokens no unit after a number", hdr("X-Ratelimit-Reset-Tokens", "1m30"), "", 0, ""},
		{"reset-tokens unknown unit", hdr("X-Ratelimit-Reset-Tokens", "2d"), "", 0, ""},
		{"reset-tokens two dots", hdr("X-Ratelimit-Reset-Tokens", "1.2.3s"), "", 0, ""},
		{"reset-tokens too long", hdr("X-Ratelimit-Reset-Tokens", "1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s"), "", 0, ""},
		{"usage limit resets_in_seconds", nil, `{"error":{"type":"usage_limit_reached","message":"x","resets_in_seconds":3600}}`, time.Hour, SourceUsageLimit},
		{"usage limit resets_at", nil, `{"error":{"type":"usage_limit_reached","resets_at":1796644920}}`, 2 * time.Minute, SourceUsageLimit},
		{"usage limit resets_at exponent", nil, `{"error":{"type":"usage_limit_reached","resets_at":1.79664492e9}}`, 2 * time.Minute, SourceUsageLimit},
		{"usage limit resets_at string", nil, `{"error":{"type":"usage_limit_reached","resets_at":"1796644920"}}`, 2 * time.Minute, SourceUsageLimit},
		{"usage limit both, latest wins", nil, `{"error":{"type":"usage_limit_reached","resets_at":1796644920,"resets_in_seconds":600}}`, 10 * time.Minute, SourceUsageLimit},
		{"usage limit past", nil, `{"error":{"type":"usage_limit_reached","resets_at":1796644000}}`, 0, ""},
		{"usage limit weekly is cut", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":604800}}`, MaxCooldown, SourceUsageLimit},
		{"usage limit huge", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":1e308}}`, MaxCooldown, SourceUsageLimit},
		{"usage limit out of range", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":1e400}}`, 0, ""},
		{"other error type", nil, `{"error":{"type":"invalid_request_error","resets_in_seconds":60}}`, 0, ""},
		{"usage limit bad field, other good", nil, `{"error":{"type":"usage_limit_reached","resets_at":{},"resets_in_seconds":60}}`, time.Minute, SourceUsageLimit},
		{"google retry info", nil, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","metadata":{"a":"b"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}`, 12 * time.Second, SourceRetryInfo},
		{"google retry info fraction", nil, `{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}}`, 500 * time.Millisecond, SourceRetryInfo},
		{"google array", nil, `[{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}]`, 30 * time.Second, SourceRetryInfo},
		{"google negative", nil, `{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"-3s"}]}}`, 0, ""},
		{"google delay not a string", nil, `{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":12}]}}`, 0, ""},
		{"google other detail only", nil, `{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","retryDelay":"9s"}]}}`, 0, ""},
		{"body truncated", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":60`, 0, ""},
		{"body not json", nil, `Too Many Requests`, 0, ""},
		{"body json scalar", nil, `429`, 0, ""},
		{"body error null", nil, `{"error":null}`, 0, ""},
		{"nothing", nil, "", 0, ""},
		{"several: latest wins", hdr("Retry-After", "1", "Retry-After-Ms", "1500", "X-Ratelimit-Reset-Requests", "6m0s", "X-Ratelimit-Reset-Tokens", "20ms"), "", 6 * time.Minute, SourceResetRequests},
		{"several: body later than headers", hdr("Retry-After", "60"), `{"error":{"type":"usage_limit_reached","resets_in_seconds":120}}`, 2 * time.Minute, SourceUsageLimit},
		{"several: garbage beside a good one", hdr("Retry-After", "soon", "X-Ratelimit-Reset-Tokens", "4s"), "", 4 * time.Second, SourceResetTokens},
		{"several: equal, first kept", hdr("Retry-After", "2", "Retry-After-Ms", "2000"), "", 2 * time.Second, SourceRetryAfter},
		{"two retry-after values", hdr("Retry-After", "3", "Retry-After", "9"), "", 9 * time.Second, SourceRetryAfter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := FromResponse(c.h, []byte(c.body), now)
			if c.want == 0 {
				if ok {
					t.Fatalf("FromResponse = %v (%s), true; want no reset", r.Until.Sub(now), r.Source)
				}
				return
			}
			if !ok || !r.Until.Equal(now.Add(c.want)) || r.Source != c.src {
				t.Fatalf("FromResponse = %v from now (%q), %v; want %v (%q), true", r.Until.Sub(now), r.Source, ok, c.want, c.src)
			}
		})
	}
}

func TestFromResponseReadsOnlyMaxBody(t *testing.T) {
	body := []byte(`{"error":{"type":"usage_limit_reached","resets_in_seconds":60}}`)
	padded := append(make([]byte, 0, MaxBody+len(body)), make([]byte, MaxBody)...)
	for i := range MaxBody {
		padded[i] = ' '
	}
	padded = append(padded, body...)
	if _, ok := FromResponse(nil, padded, now); ok {
		t.Fatal("a reset beyond the first 64 KiB of the body was read")
	}
	if _, ok := FromResponse(nil, padded[MaxBody-100:], now); !ok {
		t.Fatal("a reset within the first 64 KiB of the body was not read")
	}
}

func TestBackoff(t *testing.T) {
	want := map[int]time.Duration{-3: time.Second, 0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		9: 256 * time.Second, 10: 5 * time.Minute, 11: 5 * time.Minute, 64: 5 * time.Minute, 1 << 40: 5 * time.Minute}
	for n, d := range want {
		if got := Backoff(n); got != d {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, d)
		}
	}
	if r := Default(3, now); !r.Until.Equal(now.Add(4*time.Second)) || r.Source != SourceDefault {
		t.Errorf("Default(3) = %v (%q), want 4s (default)", r.Until.Sub(now), r.Source)
	}
}

func TestDurationGarbage(t *testing.T) {
	for _, v := range []string{"", "-", "+", "s", "..5s", "1s2", "1e3s", "0x10s", "NaNs", "Inf", "1 s", "1ss", "2d", "1h-1m"} {
		if d, ok := duration(v); ok {
			t.Errorf("duration(%q) = %v, true; want garbage", v, d)
		}
	}
}
