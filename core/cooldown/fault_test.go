package cooldown

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// TestSharedBookOutlivesItsStore: with the store failing, Limit, Cooling and Clear work from this host's
// memory, the failure is logged once (naming the member and the store's error), and once the store
// answers again the recovery is logged and limits reach the store again.
func TestSharedBookOutlivesItsStore(t *testing.T) {
	ctx := storetest.Ctx(t)
	mem := store.NewMemory()
	defer mem.Close()
	st := &flakyStore{Store: mem}
	st.down.Store(true)
	logs := &records{}
	b := NewShared(ctx, st, "g/", slog.New(logs))
	defer b.Close()

	r := Reset{Until: time.Now().Add(time.Minute), Source: SourceUsageLimit}
	if got := b.Limit(ctx, "corp", r); !got.Until.Equal(r.Until) {
		t.Fatalf("Limit with the store down returned %+v, want %+v", got, r)
	}
	if got, ok := b.Cooling("corp", time.Now()); !ok || !got.Until.Equal(r.Until) {
		t.Fatalf("Cooling with the store down = %+v, %v; want %+v, true", got, ok, r)
	}
	b.Limit(ctx, "azure", r)
	b.Clear(ctx, "corp")
	if _, ok := b.Cooling("corp", time.Now()); ok {
		t.Fatal("Clear with the store down left corp cooling")
	}
	b.Clear(ctx, "azure")
	warns := logs.at(slog.LevelWarn)
	if len(warns) != 1 {
		t.Fatalf("logged %d warnings for one outage, want 1: %q", len(warns), warns)
	}
	if !strings.Contains(warns[0], "member=corp") || !strings.Contains(warns[0], "connection refused") || !strings.Contains(warns[0], "shared store") {
		t.Fatalf("the warning %q does not name the member and the store's error", warns[0])
	}

	st.down.Store(false)
	r2 := Reset{Until: time.Now().Add(2 * time.Minute), Source: SourceRetryAfter}
	b.Limit(ctx, "corp", r2)
	it, err := mem.Get(ctx, "g/cooldown/corp")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := decode(it.Value, time.Now()); !ok || !got.Until.Equal(r2.Until) {
		t.Fatalf("after the store came back, it holds %+v (%v); want %+v", got, ok, r2)
	}
	if infos := logs.at(slog.LevelInfo); len(infos) != 1 || !strings.Contains(infos[0], "again") {
		t.Fatalf("the recovery was logged as %q, want one line", infos)
	}
	if n := len(logs.at(slog.LevelWarn)); n != 1 {
		t.Fatalf("%d warnings after the recovery, want still 1", n)
	}
}

// TestLimitMadeWhileTheStoreFailedReachesTheFleet: a limit the store did not take (it was down) rests the
// member on this host, and reaches the other hosts once the store works again; it is then the fleet's, so
// another host's Clear ends it here too.
func TestLimitMadeWhileTheStoreFailedReachesTheFleet(t *testing.T) {
	ctx := storetest.Ctx(t)
	mem := store.NewMemory()
	defer mem.Close()
	st := &flakyStore{Store: mem}
	st.down.Store(true)
	mine := tap(st)
	b := NewShared(ctx, mine, "", nil)
	defer b.Close()
	theirs := tap(mem)
	other := NewShared(ctx, theirs, "", nil)
	defer other.Close()
	other.Cooling("m", time.Now())

	r := Reset{Until: time.Now().Add(time.Minute), Source: SourceRetryAfter}
	b.Limit(ctx, "m", r)
	if got, ok := b.Cooling("m", time.Now()); !ok || !got.Until.Equal(r.Until) {
		t.Fatalf("with the store down, Cooling = %+v, %v; want %+v", got, ok, r)
	}
	if it, err := mem.Get(ctx, "cooldown/m"); err != nil || it.Rev != "" {
		t.Fatalf("the store took a limit while it was down: rev %q, %v", it.Rev, err)
	}
	n, mineBefore := theirs.calls(), mine.calls()
	st.down.Store(false)
	theirs.await(t, ctx, "the limit to reach the other host", sawValue(n))
	if got, ok := other.Cooling("m", time.Now()); !ok || !got.Until.Equal(r.Until) {
		t.Fatalf("the other host: Cooling = %+v, %v; want %+v once the store is back", got, ok, r)
	}

	mine.await(t, ctx, "this host's watcher to read its limit in the store", sawValue(mineBefore))
	n = mine.calls()
	other.Clear(ctx, "m")
	mine.await(t, ctx, "the clear to reach this host", sawAbsent(n))
	if got, ok := b.Cooling("m", time.Now()); ok {
		t.Fatalf("still cooling until %v after another host cleared the limit the fleet shares", got.Until)
	}
}
