package core

import (
	"errors"

	"github.com/tokenhost/tokenhost/sdk"
)

// redactPluginError returns err with every token-shaped word of its text replaced (sdk.RedactTokens), so a
// plugin that quotes a helper's output or a server's answer in an error cannot put a token on /providers,
// the status page, a proxy error body or a trace span. A plugin's *sdk.Error keeps its kind and key; any
// other error is wrapped, so errors.Is and errors.As still see its cause. Text without such a word passes
// unchanged.
func redactPluginError(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	redacted := sdk.RedactTokens(text)
	if redacted == text {
		return err
	}
	var e *sdk.Error
	if errors.As(err, &e) && error(e) == err {
		return &sdk.Error{Kind: e.Kind, Key: e.Key, Message: sdk.RedactTokens(e.Message)}
	}
	return &redactedError{text: redacted, err: err}
}

// redactedError is an error whose text was redacted; it unwraps to the original.
type redactedError struct {
	text string
	err  error
}

// Error returns the redacted text.
func (e *redactedError) Error() string { return e.text }

// Unwrap returns the original error.
func (e *redactedError) Unwrap() error { return e.err }
