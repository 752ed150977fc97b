package core

import "sync/atomic"

// stats counts a provider's rare events; the hot path of a successful request touches none of them.
type stats struct {
	rejected        atomic.Int64 // upstream answers with a retry status
	refreshes       atomic.Int64 // tokens obtained from the plugin
	refreshFailures atomic.Int64 // failed plugin fetches
	retries         atomic.Int64 // requests resent after a refresh
	notReplayable   atomic.Int64 // rejections not retried because the body could not be replayed
	failures        atomic.Int64 // requests that ended in an error from the wrapper
}

// Stats is a snapshot of a provider's counters since the host opened.
type Stats struct {
	// Rejected counts upstream responses with a status in retry_statuses.
	Rejected int64
	// Refreshes counts tokens obtained from the plugin (first fetch, refresh-ahead and after rejection).
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
}

func (s *stats) snapshot() Stats {
	return Stats{Rejected: s.rejected.Load(), Refreshes: s.refreshes.Load(), RefreshFailures: s.refreshFailures.Load(),
		Retries: s.retries.Load(), NotReplayable: s.notReplayable.Load(), Failures: s.failures.Load()}
}
