package tokenkit

import (
	"context"
	"testing"

	"golang.org/x/oauth2"
)

// TestFetchWithACancelledContextFails: a caller whose context has ended gets its error, even from a token
// source that answers at once from its cache (where a select between the answer and the context's end
// could pick either).
func TestFetchWithACancelledContextFails(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "cached-token-value"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 100000 {
		if tok, err := fetch(ctx, ts); err == nil {
			t.Fatalf("call %d with a cancelled context returned a token (%d bytes); want the context's error", i, len(tok.Value))
		}
	}
}
