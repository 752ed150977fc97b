package core

import (
	"sync/atomic"
	"time"
)

// stats counts a provider's rare events; the hot path of a successful request touches none of them.
type stats struct {
	rejected        atomic.Int64  // upstream answers with a retry status
	fetches         atomic.Int64  // tokens obtained from the plugin while the cache held none
	refreshes       atomic.Int64  // tokens obtained from the plugin to replace the cached one
	refreshFailures atomic.Int64  // failed plugin fetches
	retries         atomic.Int64  // requests resent after a refresh
	notReplayable   atomic.Int64  // rejections not retried because the body could not be replayed
	failures        atomic.Int64  // requests that ended in an error from the wrapper
	fetchOK         latency       // durations of successful plugin fetches
	fetchFailed     latency       // durations of failed plugin fetches
	rejectedMin     MinuteCounter // rejections per minute, for the status page's chart
	refreshMin      MinuteCounter // successful fetches per minute, for the status page's chart
}

// Stats is a snapshot of a provider's counters since the host opened.
type Stats struct {
	// Rejected counts upstream responses with a status in retry_statuses.
	Rejected int64
	// Fetches counts tokens obtained from the plugin while the cache held none (the first fetch).
	Fetches int64
	// Refreshes counts tokens obtained from the plugin to replace the cached one (refresh-ahead, expiry,
	// rejection).
	Refreshes int64
	// RefreshFailures counts failed token fetches.
	RefreshFailures int64
	// Retries counts requests resent once with a new token.
	Retries int64
	// NotReplayable counts rejections returned as they were because the body could not be replayed.
	NotReplayable int64
	// Failures counts requests the wrapper ended with an error (token unavailable, breaker open).
	Failures int64
	// PluginStarts counts plugin process starts, restarts included.
	PluginStarts int
	// FetchOK and FetchFailed are the durations of successful and failed token fetches from the plugin.
	FetchOK, FetchFailed Latency
	// RejectedPerMinute and RefreshesPerMinute count rejections and successful token fetches in each of
	// the last MinuteSlots minutes, oldest first.
	RejectedPerMinute, RefreshesPerMinute []int64
}

// FetchBuckets are the upper bounds, in seconds, of the buckets of Latency.Buckets.
var FetchBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Latency is a histogram snapshot of durations.
type Latency struct {
	// Count is the number of observations.
	Count uint64
	// Sum is the total of the observed durations.
	Sum time.Duration
	// Buckets[i] counts the observations of at most FetchBuckets[i] seconds (cumulative, as Prometheus
	// histograms count).
	Buckets []uint64
}

// latency is a lock-free histogram over FetchBuckets.
type latency struct {
	count   atomic.Uint64
	sumNano atomic.Int64
	buckets [16]atomic.Uint64 // per bucket, not cumulative; len(FetchBuckets) of them are used
}

func (l *latency) observe(d time.Duration) {
	s := d.Seconds()
	for i, ub := range FetchBuckets {
		if s <= ub {
			l.buckets[i].Add(1)
			break
		}
	}
	l.sumNano.Add(int64(d))
	l.count.Add(1)
}

func (l *latency) snapshot() Latency {
	out := Latency{Count: l.count.Load(), Sum: time.Duration(l.sumNano.Load()), Buckets: make([]uint64, len(FetchBuckets))}
	var cum uint64
	for i := range FetchBuckets {
		cum += l.buckets[i].Load()
		out.Buckets[i] = cum
	}
	return out
}

func (s *stats) snapshot() Stats {
	return Stats{Rejected: s.rejected.Load(), Fetches: s.fetches.Load(), Refreshes: s.refreshes.Load(), RefreshFailures: s.refreshFailures.Load(),
		Retries: s.retries.Load(), NotReplayable: s.notReplayable.Load(), Failures: s.failures.Load(),
		FetchOK: s.fetchOK.snapshot(), FetchFailed: s.fetchFailed.snapshot(),
		RejectedPerMinute: s.rejectedMin.Series(time.Now()), RefreshesPerMinute: s.refreshMin.Series(time.Now())}
}
