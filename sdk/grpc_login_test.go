package sdk

import (
	"context"
	"errors"
	"testing"
	"time"
)

// signer is a scripted Source with an interactive sign-in.
type signer struct {
	scripted
	prompts []Prompt
	result  LoginResult
	err     error
	logout  string
}

func (s *signer) Login(ctx context.Context, ui UI) (LoginResult, error) {
	for _, p := range s.prompts {
		if err := ui.Show(ctx, p); err != nil {
			return LoginResult{}, err
		}
	}
	return s.result, s.err
}

func (s *signer) Logout(context.Context) (string, error) { return s.logout, s.err }

func TestLoginPromptsAndResultSurviveTheHop(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	src := &signer{
		prompts: []Prompt{{Message: "open this", URL: "https://idp.example/device", UserCode: "ABCD-EFGH", Open: true}, {Message: "waiting"}},
		result:  LoginResult{Message: "signed in", Expiry: exp},
		logout:  "revoked and forgotten",
	}
	host := dial(t, src)
	var got []Prompt
	res, err := Login(t.Context(), host, UIFunc(func(_ context.Context, p Prompt) error { got = append(got, p); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != src.prompts[0] || got[1] != src.prompts[1] {
		t.Errorf("prompts %+v, want %+v", got, src.prompts)
	}
	if res.Message != "signed in" || !res.Expiry.Equal(exp) {
		t.Errorf("result %+v", res)
	}
	msg, err := Logout(t.Context(), host)
	if err != nil || msg != "revoked and forgotten" {
		t.Errorf("Logout = %q, %v", msg, err)
	}
}

func TestLoginErrorKeepsItsKind(t *testing.T) {
	host := dial(t, &signer{err: ReauthRequired("the user denied access")})
	_, err := Login(t.Context(), host, UIFunc(func(context.Context, Prompt) error { return nil }))
	if !IsKind(err, KindReauthRequired) || err.Error() != "the user denied access" {
		t.Fatalf("err = %v (kind %s)", err, KindOf(err))
	}
}

func TestLoginStopsWhenTheUIFails(t *testing.T) {
	host := dial(t, &signer{prompts: []Prompt{{Message: "one"}, {Message: "two"}}})
	gone := errors.New("terminal closed")
	n := 0
	_, err := Login(t.Context(), host, UIFunc(func(context.Context, Prompt) error { n++; return gone }))
	if !errors.Is(err, gone) || n != 1 {
		t.Fatalf("err = %v after %d prompts, want the UI's error after one", err, n)
	}
}

func TestNoInteractiveSignIn(t *testing.T) {
	host := dial(t, &scripted{})
	if _, err := Login(t.Context(), host, UIFunc(func(context.Context, Prompt) error { return nil })); !errors.Is(err, ErrNotInteractive) {
		t.Errorf("Login: %v, want ErrNotInteractive", err)
	}
	if _, err := Logout(t.Context(), host); !errors.Is(err, ErrNotInteractive) {
		t.Errorf("Logout: %v, want ErrNotInteractive", err)
	}
	if _, err := Login(t.Context(), &scripted{}, nil); !errors.Is(err, ErrNotInteractive) {
		t.Errorf("in-process Login: %v, want ErrNotInteractive", err)
	}
}
