package core

import (
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/internal/stats"
)

// counters count a provider's rare events; the hot path of a successful request touches none of them.
type counters struct {
	rejected        atomic.Int64        // upstream answers with a retry status
	fetches         atomic.Int64        // tokens obtained from the plugin while the cache held none
	refreshes       atomic.Int64        // tokens obtained from the plugin to replace the cached one
	refreshFailures atomic.Int64        // failed plugin fetches
	retries         atomic.Int64        // requests resent after a refresh
	notReplayable   atomic.Int64        // rejections not retried because the body could not be replayed
	failures        atomic.Int64        // requests that ended in an error from the wrapper
	fetchOK         latency             // durations of successful plugin fetches
	fetchFailed     latency             // durations of failed plugin fetches
	rejectedMin     stats.MinuteCounter // rejections per minute, for the status page's chart
	refreshMin      stats.MinuteCounter // successful fetches per minute, for the status page's chart
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
	// the last 60 minutes, oldest first (the current minute last).
	RejectedPerMinute, RefreshesPerMinute []int64
}

// Latency is a histogram snapshot of durations.
type Latency struct {
	// Count is the number of observations.
	Count uint64
	// Sum is the total of the observed durations.
	Sum time.Duration
	// Buckets[i] counts the observations of at most the i-th of 1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms,
	// 250ms, 500ms, 1s, 2.5s, 5s, 10s and 30s (cumulative, as Prometheus histograms count).
	Buckets []uint64
}

// latency is a lock-free histogram over stats.FetchBuckets.
type latency struct {
	count   atomic.Uint64
	sumNano atomic.Int64
	buckets [stats.FetchBucketCount]atomic.Uint64 // per bucket, not cumulative
}

func (l *latency) observe(d time.Duration) {
	s := d.Seconds()
	for i, ub := range stats.FetchBuckets() {
		if s <= ub {
			l.buckets[i].Add(1)
			break
		}
	}
	l.sumNano.Add(int64(d))
	l.count.Add(1)
}

func (l *latency) snapshot() Latency {
	out := Latency{Count: l.count.Load(), Sum: time.Duration(l.sumNano.Load()), Buckets: make([]uint64, stats.FetchBucketCount)}
	var cum uint64
	for i := range stats.FetchBucketCount {
		cum += l.buckets[i].Load()
		out.Buckets[i] = cum
	}
	return out
}

func (s *counters) snapshot() Stats {
	return Stats{Rejected: s.rejected.Load(), Fetches: s.fetches.Load(), Refreshes: s.refreshes.Load(), RefreshFailures: s.refreshFailures.Load(),
		Retries: s.retries.Load(), NotReplayable: s.notReplayable.Load(), Failures: s.failures.Load(),
		FetchOK: s.fetchOK.snapshot(), FetchFailed: s.fetchFailed.snapshot(),
		RejectedPerMinute: s.rejectedMin.Series(time.Now()), RefreshesPerMinute: s.refreshMin.Series(time.Now())}
}
