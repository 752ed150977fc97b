// Package stats holds the counters the host keeps and the proxy reads: per-minute series and the upper
// bounds of the token-fetch latency histogram. Package core counts with them; package proxy shows them
// (the status page) and exports them (Prometheus). Only packages of this module import it.
package stats

import (
	"sync/atomic"
	"time"
)

// MinuteSlots is how many minutes a MinuteCounter remembers: the last hour.
const MinuteSlots = 60

// MinuteCounter counts events per wall-clock minute over the last hour, lock-free: each slot packs the
// minute it counts (high 32 bits) and the count (low 32 bits) into one word, so counting is one
// compare-and-swap and a slot left over from an earlier hour restarts at zero. The zero value is ready.
type MinuteCounter struct {
	slots [MinuteSlots]atomic.Uint64
}

// Add counts one event at now.
func (m *MinuteCounter) Add(now time.Time) {
	min := uint64(now.Unix()/60) & 0xffffffff
	s := &m.slots[min%MinuteSlots]
	for {
		v := s.Load()
		next := min<<32 | 1
		if v>>32 == min && v&0xffffffff != 0xffffffff {
			next = v + 1
		}
		if v>>32 == min && v&0xffffffff == 0xffffffff || s.CompareAndSwap(v, next) {
			return
		}
	}
}

// Series returns the counts of the MinuteSlots minutes up to and including now's, oldest first.
func (m *MinuteCounter) Series(now time.Time) []int64 {
	out := make([]int64, MinuteSlots)
	cur := now.Unix() / 60
	for i := range out {
		min := uint64(cur-int64(MinuteSlots-1-i)) & 0xffffffff
		if v := m.slots[min%MinuteSlots].Load(); v>>32 == min {
			out[i] = int64(v & 0xffffffff)
		}
	}
	return out
}
