package core

import (
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// Rejected, a credential helper's report that a token was refused, refreshes through the plugin's
// Refresh once, hands the newer cached token to a report about an older one, throttles a second report
// about a token that came from such a refresh within min_refresh_interval, and refreshes again after it.
func TestRejectedRefreshesLikeA401(t *testing.T) {
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	pc := testProvider("https://llm.example/v1")
	h, _ := newTestHost(t, src, pc, clk, nil)
	in := hostapi.Of(h)
	ctx := t.Context()
	first, due, err := in.Current(ctx, "p")
	if err != nil || due.IsZero() || !due.Before(first.Expiry) {
		t.Fatalf("Current: %v, due %v (expiry %v)", err, due, first.Expiry)
	}
	second, _, err := in.Rejected(ctx, "p", first)
	if err != nil || second.Value == first.Value || src.refreshes.Load() != 1 || src.tokens.Load() != 1 {
		t.Fatalf("a report on the current token: %v, new %v, %d refreshes, %d Token calls; want one Refresh", err, second.Value != first.Value, src.refreshes.Load(), src.tokens.Load())
	}
	if again, _, err := in.Rejected(ctx, "p", first); err != nil || again.Value != second.Value || src.refreshes.Load() != 1 {
		t.Fatalf("a report on the older token got the newer one %v (%v), %d refreshes", again.Value == second.Value, err, src.refreshes.Load())
	}
	if again, _, err := in.Rejected(ctx, "p", second); err != nil || again.Value != second.Value || src.refreshes.Load() != 1 {
		t.Fatalf("a report within min_refresh_interval on a refreshed token: same %v (%v), %d refreshes; want it throttled", again.Value == second.Value, err, src.refreshes.Load())
	}
	clk.advance(pc.MinRefreshInterval + time.Second)
	if third, _, err := in.Rejected(ctx, "p", second); err != nil || third.Value == second.Value || src.refreshes.Load() != 2 {
		t.Fatalf("after min_refresh_interval: new %v (%v), %d refreshes; want a second Refresh", third.Value != second.Value, err, src.refreshes.Load())
	}
}
