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

// TestSharedBookKeepsItsOwnLimitWhenTheStoreMissedIt: a limit the store did not take (it was down) still
// rests the member on this host after the store is back, while its watcher reads another host's earlier
// limit and then that host's Clear.
func TestSharedBookKeepsItsOwnLimitWhenTheStoreMissedIt(t *testing.T) {
	ctx := storetest.Ctx(t)
	mem := store.NewMemory()
	defer mem.Close()
	st := &flakyStore{Store: mem}
	tp := tap(st)
	b := NewShared(ctx, tp, "", nil)
	defer b.Close()
	b.Cooling("m", time.Now())
	tp.await(t, ctx, "the watcher", func(_ []string, active int) bool { return active == 1 })
	st.down.Store(true)
	r := Reset{Until: time.Now().Add(time.Minute), Source: SourceRetryAfter}
	b.Limit(ctx, "m", r)
	st.down.Store(false)
	other := NewShared(ctx, mem, "", nil)
	defer other.Close()
	n := tp.calls()
	other.Limit(ctx, "m", Reset{Until: time.Now().Add(time.Second), Source: SourceRetryAfterMs})
	tp.await(t, ctx, "the watcher to read the other host's limit", sawValue(n))
	if got, ok := b.Cooling("m", time.Now()); !ok || !got.Until.Equal(r.Until) {
		t.Fatalf("Cooling = %+v, %v; want this host's own, later limit %+v, which the store never held", got, ok, r)
	}
	n = tp.calls()
	other.Clear(ctx, "m")
	tp.await(t, ctx, "the watcher to read the key as absent", sawAbsent(n))
	if got, ok := b.Cooling("m", time.Now()); !ok || !got.Until.Equal(r.Until) {
		t.Fatalf("Cooling = %+v, %v; want this host's own limit %+v, which the store never held", got, ok, r)
	}
}
