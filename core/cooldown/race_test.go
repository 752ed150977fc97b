package cooldown

import (
	"context"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// heldStore is a store whose Wait, once it has its answer, hands it to the test (held) and returns it only
// when the test says so (release): the test can act between a watcher's reading and its recording of it.
type heldStore struct {
	store.Store
	held    chan store.Item
	release chan struct{}
}

func (s *heldStore) Wait(ctx context.Context, key, rev string) (store.Item, error) {
	it, err := s.Store.Wait(ctx, key, rev)
	if err != nil {
		return it, err
	}
	select {
	case s.held <- it:
	case <-ctx.Done():
		return store.Item{}, ctx.Err()
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return store.Item{}, ctx.Err()
	}
	return it, nil
}

// TestWatcherReadingNeverUndoesANewerChange: a value a watcher read before this host's Limit or Clear,
// and records after it, does not replace what that Limit or Clear did.
func TestWatcherReadingNeverUndoesANewerChange(t *testing.T) {
	ctx := storetest.Ctx(t)
	mem := store.NewMemory()
	defer mem.Close()
	st := &heldStore{Store: mem, held: make(chan store.Item), release: make(chan struct{})}
	b := NewShared(ctx, st, "", nil)
	defer b.Close()
	other := NewShared(ctx, mem, "", nil)
	defer other.Close()

	t0 := time.Now()
	older := Reset{Until: t0.Add(time.Minute), Source: SourceRetryAfter}
	other.Limit(ctx, "m", older)
	b.Cooling("m", t0)
	<-st.held // the watcher has read older

	newer := Reset{Until: t0.Add(2 * time.Minute), Source: SourceUsageLimit}
	b.Limit(ctx, "m", newer)
	st.release <- struct{}{}
	<-st.held // the watcher recorded older (or not) and read newer
	if got, ok := b.Cooling("m", t0); !ok || !got.Until.Equal(newer.Until) {
		t.Fatalf("after a stale reading, Cooling = %+v, %v; want this host's newer limit %+v", got, ok, newer)
	}
	st.release <- struct{}{}

	other.Limit(ctx, "m", Reset{Until: t0.Add(3 * time.Minute), Source: SourceRetryAfterMs})
	<-st.held // the watcher has read the 3-minute limit
	b.Clear(ctx, "m")
	st.release <- struct{}{}
	<-st.held // the watcher recorded the 3-minute limit (or not) and read the key's absence
	if got, ok := b.Cooling("m", t0); ok {
		t.Fatalf("after this host's Clear and a stale reading, still cooling until %v", got.Until)
	}
	st.release <- struct{}{}
}
