//go:build unix

package core_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/internal/redistest"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// TestStoreHealthRedisPaused: a redis-server that stops answering (SIGSTOP) costs each fetch at most the
// store's timeout — the host fetches its own token — and shows as "unavailable" in Status and
// StoreStatus, logged once; when Redis answers again the host notices by itself, says so once, and shares
// tokens again.
func TestStoreHealthRedisPaused(t *testing.T) {
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	idp := &countingIdP{life: time.Hour}
	logs := &messageCounter{seen: map[string]int{}}
	var pcs []*config.Provider
	for _, name := range []string{"a", "b", "c"} {
		pc := hosttest.Provider("https://upstream.example")
		pc.Name, pc.Shared = name, true
		pcs = append(pcs, pc)
	}
	store := redisStores(t, srv.URL(), key, 200*time.Millisecond)(0)
	h, err := core.Open(context.Background(), core.Options{
		Config: &config.Config{Providers: pcs}, InProcess: map[string]sdk.Source{"a": idp, "b": idp, "c": idp}, Store: store,
		Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if st := h.StoreStatus(); !st.Configured || !st.Up || st.String() != "ok" {
		t.Fatalf("store status before any call: %+v; want configured and up", st)
	}
	srv.Pause(t)
	// Each provider's first fetch meets the paused store; a request bounded by 20 store timeouts still
	// gets its token (without a bound on Redis calls it would hang until the pause ends).
	for _, name := range []string{"a", "b", "c"} {
		ctx, cancel := context.WithTimeout(storetest.Ctx(t), 20*200*time.Millisecond)
		tok, err := core.TokenOf(ctx, h, name)
		cancel()
		if err != nil || tok.Value == "" {
			t.Fatalf("provider %s with Redis paused: %v; want a token fetched by this host", name, err)
		}
	}
	st := h.StoreStatus()
	if st.Up || st.Since.IsZero() || !strings.Contains(st.LastError, "unavailable") {
		t.Fatalf("store status with Redis paused: %+v; want unavailable since a time, with the error", st)
	}
	for _, ps := range h.Status() {
		if !strings.HasPrefix(ps.Store, "unavailable since ") {
			t.Fatalf("provider %s Status.Store = %q; want unavailable since ...", ps.Name, ps.Store)
		}
	}
	if n := logs.count("shared store unavailable"); n != 1 {
		t.Fatalf("logged the store's loss %d times for three providers' fetches; want once", n)
	}
	srv.Resume(t)
	// The host marks the store up, then logs that it works again: wait for both, then count the lines.
	waitFor(storetest.Ctx(t), t, "the host to see Redis back and say so", func() bool {
		return h.StoreStatus().Up && logs.count("shared store works again") > 0
	})
	if n := logs.count("shared store works again"); n != 1 {
		t.Fatalf("logged the store's return %d times; want once", n)
	}
	if ps := h.Status()[0]; ps.Store != "ok" {
		t.Fatalf("Status.Store after Redis came back = %q; want ok", ps.Store)
	}
}
