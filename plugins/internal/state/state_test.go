package state

import (
	"context"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

type cfg struct{ n int }

func TestSlot(t *testing.T) {
	var s Slot[cfg]
	if _, _, err := s.Get(context.Background(), "demo"); !sdk.IsKind(err, sdk.KindInternal) || err.Error() != "demo: a token was requested before Configure" {
		t.Fatalf("Get before Set: %v", err)
	}
	a, b := &cfg{1}, &cfg{2}
	if old := s.Set(a); old != nil {
		t.Errorf("first Set replaced %v", old)
	}
	s.Store(a, sdk.Token{Value: "ta"})
	if c, tok, err := s.Get(context.Background(), "demo"); err != nil || c != a || tok.Value != "ta" || s.Cached().Value != "ta" {
		t.Errorf("Get after Store: %v %v %v", c, tok, err)
	}
	if old := s.Set(b); old != a || s.Cached().Value != "" {
		t.Errorf("Set(b) replaced %v and kept token %q", old, s.Cached().Value)
	}
	s.Store(a, sdk.Token{Value: "late"}) // fetched under the replaced configuration
	if s.Cached().Value != "" {
		t.Error("a token fetched under a replaced configuration was cached")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Get(ctx, "demo"); err != context.Canceled {
		t.Errorf("Get with an ended context: %v", err)
	}
}
