package core

import (
	"context"
	"strings"
	"testing"
)

// A sign-in or sign-out through a group's name says the group has none of its own and names its members,
// rather than claiming a reload removed a provider, and asks no member's plugin for anything.
func TestGroupLoginAndLogoutNameTheMembers(t *testing.T) {
	east, west := newMember(t, "east"), newMember(t, "west")
	h := newGroupHost(t, groupOf("chat", "east", "west"), east, west)
	p, err := h.Provider("chat")
	if err != nil {
		t.Fatal(err)
	}
	_, lerr := p.Login(context.Background(), nil)
	_, oerr := p.Logout(context.Background())
	for verb, err := range map[string]error{"login": lerr, "logout": oerr} {
		if err == nil {
			t.Fatalf("%s through a group: no error", verb)
		}
		msg := err.Error()
		for _, want := range []string{"group chat has no sign-in of its own", "members: east, west", "tokenhost " + verb + " east"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not contain %q", verb, msg, want)
			}
		}
		if strings.Contains(msg, "reload") {
			t.Errorf("%s: %q blames a reload that did not happen", verb, msg)
		}
	}
	if n := east.src.calls() + west.src.calls(); n != 0 {
		t.Errorf("members' sources were asked %d times", n)
	}
}
