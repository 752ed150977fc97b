package core

import (
	"context"
	"errors"
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

// FetchTimeoutError is returned when a provider's plugin did not hand back a token within fetch_timeout:
// the identity provider is slow or the plugin hangs. It unwraps to context.DeadlineExceeded.
type FetchTimeoutError struct {
	// Provider is the provider's name.
	Provider string
	// Plugin is the provider's plugin, as configured.
	Plugin string
	// Timeout is the provider's fetch_timeout.
	Timeout time.Duration
	// Replaced is true when the plugin process gave no answer at all and was declared dead: stopped, and
	// started again on next use.
	Replaced bool
}

// errDeclaredDead marks the error of a call whose plugin process was declared dead (see declareDead).
var errDeclaredDead = errors.New("the plugin was stopped and is restarted on next use")

// Error implements error.
func (e *FetchTimeoutError) Error() string {
	if e.Replaced {
		return fmt.Sprintf("provider %s: plugin %s did not answer within the fetch timeout (providers.%s.fetch_timeout, %s); it was stopped and is restarted on next use",
			e.Provider, e.Plugin, e.Provider, e.Timeout)
	}
	return fmt.Sprintf("provider %s: plugin %s did not return a token within fetch_timeout (%s); the identity provider may be slow or the plugin hung: see its log lines, or raise providers.%s.fetch_timeout",
		e.Provider, e.Plugin, e.Timeout, e.Provider)
}

// Unwrap returns context.DeadlineExceeded.
func (e *FetchTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// PluginCrashError is returned when a provider's plugin process keeps dying, so no token can be had.
type PluginCrashError struct {
	// Provider is the provider's name.
	Provider string
	// Message says what happened and what to look at.
	Message string
	// Err is why the last restart failed, if one did.
	Err error
}

// Error implements error.
func (e *PluginCrashError) Error() string { return e.Message }

// Unwrap returns why the last restart failed, or nil.
func (e *PluginCrashError) Unwrap() error { return e.Err }

// StoreUnavailableError is returned for a provider whose plugin keeps its state (a sign-in whose refresh
// token rotates) in the fleet's shared store while that store cannot be reached: the host does not ask
// the plugin to refresh without the store, since another host may already have rotated the refresh token
// a private copy holds. It unwraps to the store's error (store.ErrUnavailable).
type StoreUnavailableError struct {
	// Provider is the provider's name.
	Provider string
	// Err is the store's error.
	Err error
}

// Error implements error.
func (e *StoreUnavailableError) Error() string {
	return fmt.Sprintf("provider %s keeps its sign-in in the fleet's shared store, which is unavailable (%v); it is not refreshed without the store, since another host may have rotated it; requests resume when the store answers again",
		e.Provider, e.Err)
}

// Unwrap returns the store's error.
func (e *StoreUnavailableError) Unwrap() error { return e.Err }

// ProviderError is an error of one provider whose message names the provider (or its config key) once
// and says what to do next. It wraps its cause, so errors.Is, errors.As and sdk.KindOf see through it, and
// the host adds no second "provider X:" prefix to it.
type ProviderError struct {
	// Provider is the provider's name.
	Provider string
	// Err is the error as worded for the user; its own Unwrap leads to the cause.
	Err error
	// prefix goes before Err's message: "provider <name>: " (providerErrorf), "providers.<name>.<key>: "
	// (keyErrorf), or nothing when Err's message names the provider itself.
	prefix string
}

// Error implements error.
func (e *ProviderError) Error() string { return e.prefix + e.Err.Error() }

// Unwrap returns the worded error, whose chain holds the cause.
func (e *ProviderError) Unwrap() error { return e.Err }

// providerErrorf formats an error of provider and puts "provider <name>: " before it, so the format names
// only what failed; a %w verb keeps the cause.
func providerErrorf(provider, format string, args ...any) error {
	return &ProviderError{Provider: provider, Err: fmt.Errorf(format, args...), prefix: "provider " + provider + ": "}
}

// keyErrorf formats an error about the provider's config key (e.g. "plugin") and puts
// "providers.<name>.<key>: " before it; a %w verb keeps the cause.
func keyErrorf(provider, key, format string, args ...any) error {
	return &ProviderError{Provider: provider, Err: fmt.Errorf(format, args...), prefix: "providers." + provider + "." + key + ": "}
}

// providerName is implemented by every error type of this package that names its provider.
type providerName interface{ providerName() string }

func (e *ProviderError) providerName() string         { return e.Provider }
func (e *BreakerOpenError) providerName() string      { return e.Provider }
func (e *PluginCrashError) providerName() string      { return e.Provider }
func (e *FetchTimeoutError) providerName() string     { return e.Provider }
func (e *StoreUnavailableError) providerName() string { return e.Provider }
