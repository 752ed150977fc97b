package tokenrule

import (
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// The due rule: inside refresh_before of expiry or past half the token's life, whichever is later; the
// plugin's RefreshAt when it is ahead; never for a token without expiry; always once expired.
func TestDue(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	exp := func(d time.Duration) sdk.Token { return sdk.Token{Value: "t", Expiry: t0.Add(d)} }
	cases := []struct {
		name    string
		tok     sdk.Token
		before  time.Duration
		at      time.Duration // after t0
		due     bool
		refresh time.Duration // RefreshAt - t0; -1: zero
	}{
		{"1h token, 5m window: fresh at 54m", exp(time.Hour), 5 * time.Minute, 54 * time.Minute, false, 55 * time.Minute},
		{"1h token, 5m window: due at 55m", exp(time.Hour), 5 * time.Minute, 55 * time.Minute, true, 55 * time.Minute},
		{"60s token, 5m window: fresh at 29s (half its life)", exp(time.Minute), 5 * time.Minute, 29 * time.Second, false, 30 * time.Second},
		{"60s token, 5m window: due at 30s", exp(time.Minute), 5 * time.Minute, 30 * time.Second, true, 30 * time.Second},
		{"6s token: fresh at 2.9s", exp(6 * time.Second), 5 * time.Minute, 2900 * time.Millisecond, false, 3 * time.Second},
		{"6s token: due at 3s", exp(6 * time.Second), 5 * time.Minute, 3 * time.Second, true, 3 * time.Second},
		{"plugin's RefreshAt ahead wins", sdk.Token{Value: "t", Expiry: t0.Add(time.Hour), RefreshAt: t0.Add(10 * time.Minute)}, 5 * time.Minute, 10 * time.Minute, true, 10 * time.Minute},
		{"a RefreshAt already past is ignored", sdk.Token{Value: "t", Expiry: t0.Add(time.Hour), RefreshAt: t0.Add(-time.Minute)}, 5 * time.Minute, time.Minute, false, 55 * time.Minute},
		{"no expiry: never due", sdk.Token{Value: "t"}, 5 * time.Minute, 1000 * time.Hour, false, -1},
		{"expired before a later RefreshAt: due", sdk.Token{Value: "t", Expiry: t0.Add(time.Hour), RefreshAt: t0.Add(2 * time.Hour)}, 5 * time.Minute, time.Hour, true, 2 * time.Hour},
	}
	for _, c := range cases {
		got := RefreshAt(c.tok, t0, c.before)
		want := time.Time{}
		if c.refresh >= 0 {
			want = t0.Add(c.refresh)
		}
		if !got.Equal(want) {
			t.Errorf("%s: RefreshAt %v, want %v", c.name, got, want)
		}
		if d := Due(c.tok, t0, c.before, t0.Add(c.at)); d != c.due {
			t.Errorf("%s: Due %v, want %v", c.name, d, c.due)
		}
	}
}
