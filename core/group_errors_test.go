package core

import (
	"errors"
	"strings"
	"testing"
)

// When no member answers, the error names each member beside its own error, even one (a refused
// connection) whose text names only an address.
func TestGroupErrorNamesEachUnreachableMember(t *testing.T) {
	a, b := newMember(t, "a"), newMember(t, "b")
	h := newGroupHost(t, groupOf("chat", "a", "b"), a, b)
	for _, name := range []string{"a", "b"} {
		h.gen.Load().providers[name].cfg.Upstream = deadURL(t)
	}
	req := strings.NewReader(`{"model":"m"}`)
	resp, err := groupClient(t, h, "chat").Post(GroupBaseURL("chat")+"/v1/chat/completions", "application/json", req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("status %d, want an error", resp.StatusCode)
	}
	var ge *GroupError
	if !errors.As(err, &ge) || len(ge.Reasons) != 2 {
		t.Fatalf("want a GroupError with two reasons, got %v", err)
	}
	for i, name := range []string{"a", "b"} {
		if !strings.HasPrefix(ge.Reasons[i], "provider "+name+": ") || !strings.Contains(ge.Reasons[i], "connection refused") {
			t.Errorf("reason %d = %q, want it to lead with provider %s and say why", i, ge.Reasons[i], name)
		}
	}
}
