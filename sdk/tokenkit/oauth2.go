package tokenkit

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/oauth2"

	"github.com/tokenhost/tokenhost/sdk"
)

// NewTokenSource builds the token source of a configured plugin from its options. FromTokenSource calls it
// in Configure, and again for every Refresh, so a caching source (oauth2.ReuseTokenSource, what
// clientcredentials.Config.TokenSource returns) is bypassed when the host needs a new token. Its errors
// should be sdk.BadConfig naming the option.
type NewTokenSource func(ctx context.Context, options sdk.Options) (oauth2.TokenSource, error)

// FromTokenSource returns a Source that serves the tokens of the oauth2.TokenSource newSource builds, with
// info as its Info. Errors of the token endpoint (*oauth2.RetrieveError) get their kind from Classify and
// a message without the answer's body.
func FromTokenSource(info sdk.Info, newSource NewTokenSource) sdk.Source {
	return &tokenSource{info: info, build: newSource}
}

type tokenSource struct {
	info  sdk.Info
	build NewTokenSource

	mu      sync.Mutex
	options sdk.Options
	ts      oauth2.TokenSource
}

func (s *tokenSource) Configure(ctx context.Context, options map[string]any) (sdk.Info, error) {
	ts, err := s.build(context.WithoutCancel(ctx), options)
	if err != nil {
		return sdk.Info{}, err
	}
	s.mu.Lock()
	s.options, s.ts = options, ts
	s.mu.Unlock()
	return s.info, nil
}

func (s *tokenSource) Token(ctx context.Context) (sdk.Token, error) {
	s.mu.Lock()
	ts := s.ts
	s.mu.Unlock()
	if ts == nil {
		return sdk.Token{}, sdk.Internal("%s: a token was requested before Configure", s.info.Name)
	}
	return fetch(ctx, ts)
}

func (s *tokenSource) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	s.mu.Lock()
	options := s.options
	s.mu.Unlock()
	ts, err := s.build(context.WithoutCancel(ctx), options)
	if err != nil {
		return sdk.Token{}, err
	}
	t, err := fetch(ctx, ts)
	if err != nil {
		return sdk.Token{}, err
	}
	if t.Value == stale.Value {
		return sdk.Token{}, sdk.Unavailable("%s: the token endpoint returned the token that was rejected; try again later", s.info.Name)
	}
	s.mu.Lock()
	s.ts = ts
	s.mu.Unlock()
	return t, nil
}

// fetch calls ts.Token, which takes no context, returning as soon as ctx ends (the call itself runs on).
// A context that has already ended gets its error without a call: a source answering from its cache
// would otherwise race the context in the select below.
func fetch(ctx context.Context, ts oauth2.TokenSource) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	type result struct {
		t   *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() {
		t, err := ts.Token()
		ch <- result{t, err}
	}()
	select {
	case <-ctx.Done():
		return sdk.Token{}, ctx.Err()
	case r := <-ch:
		if r.err != nil {
			return sdk.Token{}, retrieveError(r.err)
		}
		if r.t == nil || r.t.AccessToken == "" {
			return sdk.Token{}, sdk.Unavailable("the token endpoint answered without an access_token; try again later")
		}
		return sdk.Token{Value: r.t.AccessToken, Type: r.t.Type(), Expiry: r.t.Expiry}, nil
	}
}

// retrieveError gives an oauth2 error a kind and a message that quotes no body.
func retrieveError(err error) error {
	var e *sdk.Error
	if errors.As(err, &e) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		where := "the token endpoint"
		if re.Response.Request != nil {
			where = Display(re.Response.Request.URL.String())
		}
		return &HTTPError{Status: re.Response.StatusCode, Code: SafeCode(re.ErrorCode), err: refusal(where, re.Response.StatusCode, SafeCode(re.ErrorCode))}
	}
	return sdk.Unavailable("the token endpoint could not be reached or did not answer in time; try again later")
}
