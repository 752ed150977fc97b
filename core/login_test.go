package core

import (
	"context"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// signingSource is a static source with an interactive sign-in that shows one prompt.
type signingSource struct {
	hosttest.StaticSource
	err error
}

func (s signingSource) Login(ctx context.Context, ui sdk.UI) (sdk.LoginResult, error) {
	if err := ui.Show(ctx, sdk.Prompt{Message: "enter the code", URL: "https://idp.example/device", UserCode: "ABCD"}); err != nil {
		return sdk.LoginResult{}, err
	}
	return sdk.LoginResult{Message: "signed in"}, s.err
}

func (s signingSource) Logout(context.Context) (string, error) { return "forgotten", s.err }

func TestHostLoginRelaysPrompts(t *testing.T) {
	h, _ := newTestHost(t, signingSource{StaticSource: hosttest.StaticSource{Tok: "t"}}, testProvider("https://llm.example"), nil, nil)
	var got []sdk.Prompt
	res, err := h.login(t.Context(), "p", sdk.UIFunc(func(_ context.Context, p sdk.Prompt) error { got = append(got, p); return nil }))
	if err != nil || res.Message != "signed in" || len(got) != 1 || got[0].UserCode != "ABCD" {
		t.Fatalf("Login = %+v, %v; prompts %+v", res, err, got)
	}
	if msg, err := h.logout(t.Context(), "p"); err != nil || msg != "forgotten" {
		t.Fatalf("Logout = %q, %v", msg, err)
	}
}

func TestHostLoginErrors(t *testing.T) {
	// A plugin without Login: the host says so, naming the provider.
	h, _ := newTestHost(t, hosttest.StaticSource{Tok: "t"}, testProvider("https://llm.example"), nil, nil)
	_, err := h.login(t.Context(), "p", sdk.UIFunc(func(context.Context, sdk.Prompt) error { return nil }))
	if err == nil || !strings.Contains(err.Error(), "provider p has no interactive sign-in") {
		t.Fatalf("Login without sign-in: %v", err)
	}
	if _, err := h.logout(t.Context(), "p"); err == nil || !strings.Contains(err.Error(), "no interactive sign-in") {
		t.Fatalf("Logout without sign-in: %v", err)
	}
	// A plugin's "<provider>" becomes the provider's name; the kind survives.
	src := signingSource{StaticSource: hosttest.StaticSource{Tok: "t"}, err: sdk.ReauthRequired("the code expired; run `tokenhost login <provider>` again")}
	h, _ = newTestHost(t, src, testProvider("https://llm.example"), nil, nil)
	_, err = h.login(t.Context(), "p", sdk.UIFunc(func(context.Context, sdk.Prompt) error { return nil }))
	if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "run `tokenhost login p` again") {
		t.Fatalf("Login error: %v", err)
	}
	if _, err := h.login(t.Context(), "nope", nil); err == nil || !strings.Contains(err.Error(), "unknown provider") {
		t.Fatalf("unknown provider: %v", err)
	}
}
