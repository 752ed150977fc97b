package core

import (
	"fmt"
	"time"
)

// BreakerOpenError is returned while a provider's circuit breaker is open: calls fail at once instead of
// hammering a failing upstream or token endpoint.
type BreakerOpenError struct {
	// Provider is the provider's name.
	Provider string
	// What is "upstream" or "token endpoint".
	What string
	// RetryAt is when the breaker lets the next probe through.
	RetryAt time.Time
}

// Error implements error.
func (e *BreakerOpenError) Error() string {
	in := time.Until(e.RetryAt).Round(time.Second)
	if in < 0 {
		in = 0
	}
	return fmt.Sprintf("provider %s: %s circuit is open after repeated failures; failing fast until %s (in %s)",
		e.Provider, e.What, e.RetryAt.Format(time.TimeOnly), in)
}

// RetryAfter returns how long until the breaker lets a probe through, at least one second.
func (e *BreakerOpenError) RetryAfter() time.Duration {
	return max(time.Until(e.RetryAt), time.Second)
}

// PluginCrashError is returned when a provider's plugin process keeps dying, so no token can be had.
type PluginCrashError struct {
	// Provider is the provider's name.
	Provider string
	// Message says what happened and what to look at.
	Message string
}

// Error implements error.
func (e *PluginCrashError) Error() string { return e.Message }
