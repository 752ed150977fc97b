package core

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
)

// TestFleetTokenReplacesStaleWithoutFetching: a host whose token was rejected (stale) takes the token
// another host already stored in its place instead of refreshing; a stored token that is the stale one, or
// older, makes it fetch.
func TestFleetTokenReplacesStaleWithoutFetching(t *testing.T) {
	ctx := context.Background()
	store, _ := store.Open(store.Config{Backend: "local"})
	defer store.Close()
	fetches := 0
	now := time.Now()
	s := &fleetTokens{provider: "p", store: store, lease: time.Minute, timeout: func() time.Duration { return time.Minute }, now: time.Now, log: slog.New(slog.DiscardHandler),
		fetch: func(context.Context, *sdk.Token) (sdk.Token, error) {
			fetches++
			return sdk.Token{Value: "fetched", Expiry: now.Add(3 * time.Hour)}, nil
		}}
	put := func(tok sdk.Token) {
		b, _ := json.Marshal(tok)
		if err := store.Set(ctx, "p/access-token", b, 0); err != nil {
			t.Fatal(err)
		}
	}
	stale := sdk.Token{Value: "old", Expiry: now.Add(time.Hour)}

	put(sdk.Token{Value: "new", Expiry: now.Add(2 * time.Hour)})
	if tok, err := s.get(ctx, &stale); err != nil || tok.Value != "new" || fetches != 0 {
		t.Fatalf("with a newer token stored: got %q, %v after %d fetches; want the stored one and no fetch", tok.Value, err, fetches)
	}
	put(stale)
	if tok, err := s.get(ctx, &stale); err != nil || tok.Value != "fetched" || fetches != 1 {
		t.Fatalf("with the stale token stored: got %q, %v after %d fetches; want one fetch", tok.Value, err, fetches)
	}
	put(sdk.Token{Value: "older", Expiry: now.Add(time.Minute)})
	if tok, err := s.get(ctx, &stale); err != nil || tok.Value != "fetched" || fetches != 2 {
		t.Fatalf("with an older token stored: got %q, %v after %d fetches; want a fetch", tok.Value, err, fetches)
	}
	it, _ := store.Get(ctx, "p/access-token")
	var stored sdk.Token
	if err := json.Unmarshal(it.Value, &stored); err != nil || stored.Value != "fetched" {
		t.Fatalf("stored %q (%v); want the fetched token, for the other hosts", stored.Value, err)
	}
}
