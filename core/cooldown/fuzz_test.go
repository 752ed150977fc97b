package cooldown

import (
	"net/http"
	"testing"
)

// FuzzFromResponse feeds FromResponse arbitrary header values and bodies: it must not panic, and any
// reset it returns lies after now and at most MaxCooldown ahead, from a named source.
func FuzzFromResponse(f *testing.F) {
	f.Add("20", "250", "6m0s", "1m30.5s", `{"error":{"type":"usage_limit_reached","resets_at":1796644920,"resets_in_seconds":60}}`)
	f.Add("Mon, 07 Dec 2026 12:01:30 GMT", "", "", "", `[{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}}]`)
	f.Add("-1", "1e400", "-9999999999999h", "1.2.3s", `{"error":{"type":"usage_limit_reached","resets_in_seconds":1e400}}`)
	f.Add("", "", "", "", `{"error":{"details":{"@type":1}}}`)
	f.Fuzz(func(t *testing.T, retryAfter, retryAfterMs, resetRequests, resetTokens, body string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("Retry-After-Ms", retryAfterMs)
		h.Set("X-Ratelimit-Reset-Requests", resetRequests)
		h.Set("X-Ratelimit-Reset-Tokens", resetTokens)
		r, ok := FromResponse(h, []byte(body), now)
		if !ok {
			if r != (Reset{}) {
				t.Fatalf("no reset, yet FromResponse returned %+v", r)
			}
			return
		}
		if !r.Until.After(now) || r.Until.After(now.Add(MaxCooldown)) {
			t.Fatalf("reset %v from now is outside (0, %v]", r.Until.Sub(now), MaxCooldown)
		}
		if !known(r.Source) || r.Source == SourceDefault {
			t.Fatalf("reset from unknown source %q", r.Source)
		}
	})
}

// FuzzDecode feeds a shared book's reading of a stored cooldown arbitrary values, as another writer of the
// store could leave: it must not panic, and a cooldown it accepts ends at most MaxCooldown ahead, from a
// named source.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"until":"2026-12-07T12:01:00Z","source":"retry-after"}`))
	f.Add([]byte(`{"until":"9999-12-31T23:59:59Z","source":"x\nforged"}`))
	f.Add([]byte(`{"until":0}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		r, ok := decode(v, now)
		if !ok {
			return
		}
		if r.Until.After(now.Add(MaxCooldown)) || r.Until.IsZero() || !known(r.Source) {
			t.Fatalf("decode(%q) = %+v: beyond %v or from an unknown source", v, r, MaxCooldown)
		}
	})
}
