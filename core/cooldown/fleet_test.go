package cooldown

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/redistest"
	"github.com/tokenhost/tokenhost/store"
	_ "github.com/tokenhost/tokenhost/store/redisstore"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// fleetCooldowns runs four hosts' books, one on each of stores, which reach one shared store: a Limit on
// one host reaches the other three without their asking, a Clear too, and a cooldown ends in the store by
// itself.
func fleetCooldowns(t *testing.T, stores []store.Store) {
	ctx := storetest.Ctx(t)
	var taps []*tapStore
	var books []Book
	for _, s := range stores {
		tp := tap(s)
		b := NewShared(ctx, tp, "chat/", slog.New(slog.DiscardHandler))
		t.Cleanup(func() { b.Close() })
		taps, books = append(taps, tp), append(books, b)
	}
	const m = "corp"
	t0 := time.Now()
	for i, b := range books { // a group router's first look at its members starts their watchers
		if _, ok := b.Cooling(m, t0); ok {
			t.Fatalf("host %d: cooling before any limit", i)
		}
	}
	calls := make([]int, len(taps))
	for i, tp := range taps {
		calls[i] = tp.calls()
	}

	r := Reset{Until: time.Now().Add(5 * time.Second), Source: SourceRetryAfter}
	if got := books[0].Limit(ctx, m, r); !got.Until.Equal(r.Until) {
		t.Fatalf("Limit returned %+v, want %+v", got, r)
	}
	for i := 1; i < len(books); i++ {
		taps[i].await(t, ctx, "the limit to reach a host", sawValue(calls[i]))
		got, ok := books[i].Cooling(m, time.Now())
		if !ok || !got.Until.Equal(r.Until) || got.Source != SourceRetryAfter {
			t.Fatalf("host %d: Cooling = %+v, %v after host 0 limited %s; want %+v, true", i, got, ok, m, r)
		}
		calls[i] = taps[i].calls()
	}

	books[0].Clear(ctx, m)
	if _, ok := books[0].Cooling(m, time.Now()); ok {
		t.Fatal("host 0 is cooling after its own Clear")
	}
	for i := 1; i < len(books); i++ {
		taps[i].await(t, ctx, "the clear to reach a host", sawAbsent(calls[i]))
		if got, ok := books[i].Cooling(m, time.Now()); ok {
			t.Fatalf("host %d: still cooling until %v after host 0 cleared %s (its limit runs %v more)", i, got.Until, m, time.Until(r.Until))
		}
		calls[i] = taps[i].calls()
	}

	// Hosts 1 and 2 now wait on an absent key; host 0's watcher may or may not have seen its own limit
	// before its Clear (a store reports the value a key has when its waiter looks), so it sits this out.
	short := Reset{Until: time.Now().Add(300 * time.Millisecond), Source: SourceResetTokens}
	books[3].Limit(ctx, m, short)
	for i := 1; i < 3; i++ {
		taps[i].await(t, ctx, "the short limit to reach a host", sawValue(calls[i]))
		if _, ok := books[i].Cooling(m, time.Now()); !ok && time.Now().Before(short.Until) {
			t.Fatalf("host %d: not cooling after host 3's short limit reached it", i)
		}
		calls[i] = taps[i].calls()
	}
	for i := 1; i < 3; i++ {
		taps[i].await(t, ctx, "the short limit to end in the store", sawAbsent(calls[i]))
		if got, ok := books[i].Cooling(m, time.Now()); ok {
			t.Fatalf("host %d: still cooling until %v after the key expired", i, got.Until)
		}
	}
	if it, err := stores[0].Get(ctx, "chat/cooldown/"+m); err != nil || it.Rev != "" {
		t.Fatalf("the expired cooldown is still stored: rev %q, %v", it.Rev, err)
	}
}

func TestFleetCooldownsLocalStore(t *testing.T) {
	s := store.NewMemory()
	defer s.Close()
	fleetCooldowns(t, []store.Store{s, s, s, s})
}

func TestFleetCooldownsRedis(t *testing.T) {
	srv := redistest.Start(t)
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	var stores []store.Store
	for range 4 { // a connection pool of its own for each host
		s, err := store.Open(store.Config{Backend: "redis", URL: srv.URL(), KeyPrefix: "th:", Keys: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	fleetCooldowns(t, stores)
}

// TestFleetLaterResetWins: hosts limiting one member at once with different resets leave the latest in the
// store, and a host whose reset is earlier than the stored one gets the stored one back.
func TestFleetLaterResetWins(t *testing.T) {
	ctx := storetest.Ctx(t)
	s := store.NewMemory()
	defer s.Close()
	t0 := time.Now()
	var books []Book
	for range 4 {
		b := NewShared(ctx, s, "", nil)
		defer b.Close()
		books = append(books, b)
	}
	done := make(chan struct{})
	for i, b := range books {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 20 {
				b.Limit(ctx, "m", Reset{Until: t0.Add(time.Minute + time.Duration(j*4+i)*time.Millisecond), Source: SourceRetryAfterMs})
			}
		}()
	}
	for range books {
		<-done
	}
	latest := t0.Add(time.Minute + time.Duration(19*4+3)*time.Millisecond)
	it, err := s.Get(ctx, "cooldown/m")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := decode(it.Value, t0); !ok || !r.Until.Equal(latest) {
		t.Fatalf("the store holds %+v (%v); want the latest reset, %v", r, ok, latest)
	}
	early := Reset{Until: t0.Add(time.Second), Source: SourceRetryAfter}
	if got := books[0].Limit(ctx, "m", early); !got.Until.Equal(latest) || got.Source != SourceRetryAfterMs {
		t.Fatalf("Limit with an earlier reset returned %+v; want the stored %v", got, latest)
	}
}

// TestSharedBookReadsStoredValuesWarily: a value another writer put in the store rests a member for at
// most MaxCooldown, with a known source, and an unreadable one rests it not at all.
func TestSharedBookReadsStoredValuesWarily(t *testing.T) {
	ctx := storetest.Ctx(t)
	st := tap(store.NewMemory())
	defer st.Close()
	b := NewShared(ctx, st, "", nil)
	defer b.Close()
	b.Cooling("m", time.Now())
	n := st.calls()
	far := time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Format(time.RFC3339Nano)
	if err := st.Set(ctx, "cooldown/m", []byte(`{"until":"`+far+`","source":"x\nforged"}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	st.await(t, ctx, "the forged value to reach the book", sawValue(n))
	got, ok := b.Cooling("m", time.Now())
	if !ok || got.Until.After(time.Now().Add(MaxCooldown)) || got.Source != SourceDefault {
		t.Fatalf("Cooling = %+v, %v; want at most %v ahead, source %q", got, ok, MaxCooldown, SourceDefault)
	}
	n = st.calls()
	if err := st.Set(ctx, "cooldown/m", []byte(`not json`), time.Hour); err != nil {
		t.Fatal(err)
	}
	st.await(t, ctx, "the garbage value to reach the book", sawValue(n))
	if got, ok := b.Cooling("m", time.Now()); ok {
		t.Fatalf("an unreadable stored value rests the member until %v", got.Until)
	}
}

// TestSharedBookCloseEndsWatchers: Close returns once every watcher has ended, and a closed book starts
// none.
func TestSharedBookCloseEndsWatchers(t *testing.T) {
	ctx := storetest.Ctx(t)
	st := tap(store.NewMemory())
	defer st.Close()
	b := NewShared(context.Background(), st, "", nil)
	for _, m := range []string{"a", "b", "c"} {
		b.Cooling(m, time.Now())
	}
	st.await(t, ctx, "three watchers", func(_ []string, active int) bool { return active == 3 })
	b.Close()
	st.mu.Lock()
	active, calls := st.active, len(st.waits)
	st.mu.Unlock()
	if active != 0 {
		t.Fatalf("%d watchers still wait after Close", active)
	}
	b.Cooling("d", time.Now())
	if got := b.Limit(ctx, "d", Reset{Until: time.Now().Add(time.Minute)}); got.Until.IsZero() {
		t.Fatal("Limit on a closed book returned no reset")
	}
	if n := st.calls(); n != calls {
		t.Fatalf("a closed book started %d more waits", n-calls)
	}
}
