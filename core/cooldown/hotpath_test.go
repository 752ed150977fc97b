package cooldown

import (
	"context"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// TestCoolingNeitherAllocatesNorAsksTheStore: Cooling reads memory only, with no allocation and no store
// read, on both books, for a member cooling down and for one that is not.
func TestCoolingNeitherAllocatesNorAsksTheStore(t *testing.T) {
	ctx := context.Background()
	st := tap(store.NewMemory())
	defer st.Close()
	books := map[string]Book{"local": NewLocal(), "shared": NewShared(ctx, st, "", nil)}
	for name, b := range books {
		defer b.Close()
		b.Limit(ctx, "hot", Reset{Until: time.Now().Add(time.Hour), Source: SourceRetryAfter})
		b.Limit(ctx, "cold", Reset{Until: time.Now().Add(time.Hour), Source: SourceRetryAfter})
		b.Clear(ctx, "cold")
		now := time.Now()
		gets := st.gets.Load()
		for _, m := range []string{"hot", "cold"} {
			want := m == "hot"
			if n := testing.AllocsPerRun(1000, func() {
				if _, ok := b.Cooling(m, now); ok != want {
					t.Fatalf("%s book: Cooling(%s) = %v, want %v", name, m, ok, want)
				}
			}); n != 0 {
				t.Errorf("%s book: Cooling(%s) allocates %v times per call, want 0", name, m, n)
			}
		}
		if g := st.gets.Load() - gets; g != 0 { // the watcher waits (store.Wait); only Limit reads
			t.Errorf("%s book: 2000 Cooling calls made %d store reads, want none", name, g)
		}
	}
}

func BenchmarkCooling(b *testing.B) {
	ctx := context.Background()
	st := store.NewMemory()
	defer st.Close()
	books := map[string]Book{"local": NewLocal(), "shared": NewShared(ctx, st, "", nil)}
	for name, book := range books {
		defer book.Close()
		for _, m := range []string{"a", "b", "c", "d"} {
			book.Limit(ctx, m, Reset{Until: time.Now().Add(time.Hour), Source: SourceRetryAfter})
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					book.Cooling("c", now)
				}
			})
		})
	}
}
