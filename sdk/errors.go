package sdk

import (
	"errors"
	"fmt"
)

// Kind classifies a plugin error so the host knows how to act on it.
type Kind string

const (
	// KindReauthRequired means the user must sign in again; the host never retries it.
	KindReauthRequired Kind = "REAUTH_REQUIRED"
	// KindUnavailable is a transient failure (identity provider down, timeout); the breaker counts it.
	KindUnavailable Kind = "UNAVAILABLE"
	// KindBadConfig means an option is wrong; Key names it relative to the options block.
	KindBadConfig Kind = "BAD_CONFIG"
	// KindInternal is any other plugin failure.
	KindInternal Kind = "INTERNAL"
)

// Error is an error with a Kind that survives the trip from plugin to host.
type Error struct {
	Kind Kind
	// Key is the option path an error of KindBadConfig refers to, e.g. "token_url".
	Key string
	// Message says what failed and what the user does next; it must never hold a secret.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Key != "" {
		return e.Key + ": " + e.Message
	}
	return e.Message
}

// ReauthRequired returns an error telling the user they must sign in again, and how.
func ReauthRequired(format string, args ...any) error {
	return &Error{Kind: KindReauthRequired, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns a transient error the host may retry later.
func Unavailable(format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Message: fmt.Sprintf(format, args...)}
}

// BadConfig returns an error about the option key (relative to the options block).
func BadConfig(key, format string, args ...any) error {
	return &Error{Kind: KindBadConfig, Key: key, Message: fmt.Sprintf(format, args...)}
}

// Internal returns an error of KindInternal: a failure that is neither the user's sign-in, a transient
// outage nor a config mistake.
func Internal(format string, args ...any) error { return internalError(fmt.Sprintf(format, args...)) }

func internalError(msg string) *Error { return &Error{Kind: KindInternal, Message: msg} }

// KindOf returns the Kind of err, or KindInternal when err carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err carries kind k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }
