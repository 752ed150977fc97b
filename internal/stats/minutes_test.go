package stats_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/stats"
)

func TestMinuteCounterCountsPerMinuteAndForgetsAfterAnHour(t *testing.T) {
	var m stats.MinuteCounter
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.Add(t0)
			}
		}()
	}
	wg.Wait()
	m.Add(t0.Add(2 * time.Minute))
	s := m.Series(t0.Add(2 * time.Minute))
	if len(s) != stats.MinuteSlots || s[stats.MinuteSlots-3] != 800 || s[stats.MinuteSlots-2] != 0 || s[stats.MinuteSlots-1] != 1 {
		t.Fatalf("series tail = %v, want [... 800 0 1]", s[stats.MinuteSlots-3:])
	}
	// An hour later t0's slot is reused: the old count is gone, the new minute starts at one.
	later := t0.Add(time.Hour)
	m.Add(later)
	s = m.Series(later)
	if s[stats.MinuteSlots-1] != 1 {
		t.Fatalf("count in the reused slot = %d, want 1", s[stats.MinuteSlots-1])
	}
	var total int64
	for _, v := range s {
		total += v
	}
	if total != 2 { // the +2min event is still inside the hour, t0's is not
		t.Fatalf("total over the last hour = %d, want 2 (%v)", total, s)
	}
}
