package sdk

import (
	"context"
	"errors"
	"time"
)

// Prompt is one thing a plugin asks the host to show the user during an interactive sign-in.
type Prompt struct {
	// Message is the text to show, e.g. "Open the page below and enter the code".
	Message string
	// URL, when set, is a page the user visits (a verification URI or an authorization URL).
	URL string
	// UserCode, when set, is the code the user types on that page (RFC 8628 user_code).
	UserCode string
	// Open says the host may open URL in a browser (unless the user asked it not to).
	Open bool
}

// UI is what the host offers a plugin during an interactive sign-in: a place to show prompts.
type UI interface {
	// Show displays p to the user; it returns an error when the user can no longer be reached.
	Show(ctx context.Context, p Prompt) error
}

// LoginResult is how an interactive sign-in ended.
type LoginResult struct {
	// Message tells the user what happened and where the sign-in is kept; it holds no secret.
	Message string
	// Expiry is when the access token obtained by the sign-in expires (zero: unknown).
	Expiry time.Time
}

// Interactive is the optional part of the contract for plugins that can sign a person in. The host
// relays Login's prompts to the terminal (`tokenhost login <provider>`) and calls Logout for
// `tokenhost logout <provider>`.
type Interactive interface {
	// Login runs the sign-in, showing prompts through ui, and stores its result where Token finds it.
	Login(ctx context.Context, ui UI) (LoginResult, error)
	// Logout revokes the stored sign-in where the provider allows it, forgets it, and says what it did.
	Logout(ctx context.Context) (string, error)
}

// ErrNotInteractive is what Login and Logout return for a plugin that does not implement Interactive;
// the host turns it into "provider X has no interactive sign-in; see docs/providers/X.md".
var ErrNotInteractive = errors.New("the plugin has no interactive sign-in")

// Login runs src's interactive sign-in, or returns ErrNotInteractive when src has none.
func Login(ctx context.Context, src Source, ui UI) (LoginResult, error) {
	if i, ok := src.(Interactive); ok {
		return i.Login(ctx, ui)
	}
	return LoginResult{}, ErrNotInteractive
}

// Logout runs src's Logout, or returns ErrNotInteractive when src has no interactive sign-in.
func Logout(ctx context.Context, src Source) (string, error) {
	if i, ok := src.(Interactive); ok {
		return i.Logout(ctx)
	}
	return "", ErrNotInteractive
}

// UIFunc adapts a function to UI.
type UIFunc func(ctx context.Context, p Prompt) error

// Show calls f.
func (f UIFunc) Show(ctx context.Context, p Prompt) error { return f(ctx, p) }
