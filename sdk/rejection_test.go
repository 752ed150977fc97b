package sdk

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// aware is a scripted Source that also reads why its token was rejected.
type aware struct {
	scripted
	why   Rejection
	calls int
}

func (a *aware) RefreshRejected(_ context.Context, rejected Token, why Rejection) (Token, error) {
	a.stale, a.why = rejected, why
	a.calls++
	return a.tok, a.err
}

func TestRejectionReachesAnAwarePlugin(t *testing.T) {
	src := &aware{scripted: scripted{tok: Token{Value: "new"}}}
	c := dial(t, src)
	ra, ok := c.(RejectionAware)
	if !ok {
		t.Fatal("the host-side Source does not implement RejectionAware")
	}
	challenge := `Bearer error="insufficient_scope", scope="files:read files:write"`
	got, err := ra.RefreshRejected(context.Background(), Token{Value: "old"}, Rejection{Status: 403, Challenge: challenge})
	if err != nil || got.Value != "new" {
		t.Fatalf("RefreshRejected = %q, %v", got.Value, err)
	}
	if src.calls != 1 || src.stale.Value != "old" || src.why.Status != 403 || src.why.Challenge != challenge {
		t.Fatalf("plugin got calls=%d stale=%q why=%+v", src.calls, src.stale.Value, src.why)
	}
	// A plain Refresh (refresh-ahead) reaches the aware plugin's Refresh, not RefreshRejected.
	if _, err := c.Refresh(context.Background(), Token{Value: "old"}); err != nil || src.calls != 1 {
		t.Fatalf("Refresh went to RefreshRejected (calls=%d, err=%v)", src.calls, err)
	}
}

func TestRejectionIgnoredByAnOlderPlugin(t *testing.T) {
	src := &scripted{tok: Token{Value: "new"}}
	got, err := dial(t, src).(RejectionAware).RefreshRejected(context.Background(), Token{Value: "old"}, Rejection{Status: 401, Challenge: "Bearer"})
	if err != nil || got.Value != "new" || src.stale.Value != "old" {
		t.Fatalf("a plugin without RejectionAware was not refreshed: %q, %v (stale %q)", got.Value, err, src.stale.Value)
	}
}

func TestChallengeIsCleanedAndBounded(t *testing.T) {
	src := &aware{scripted: scripted{tok: Token{Value: "new"}}}
	c := dial(t, src).(RejectionAware)
	dirty := "Bearer realm=\"a\x00b\r\nX-Injected: 1\x1b[31m\"\tscope=\"\xff\xfeé\""
	if _, err := c.RefreshRejected(context.Background(), Token{Value: "old"}, Rejection{Status: 401, Challenge: dirty}); err != nil {
		t.Fatal(err)
	}
	if want := "Bearer realm=\"abX-Injected: 1[31m\" scope=\"é\""; src.why.Challenge != want {
		t.Fatalf("challenge arrived as %q, want %q", src.why.Challenge, want)
	}
	long := "Bearer scope=\"" + strings.Repeat("é", MaxChallengeBytes) + "\""
	if _, err := c.RefreshRejected(context.Background(), Token{Value: "old"}, Rejection{Status: 401, Challenge: long}); err != nil {
		t.Fatal(err)
	}
	if n := len(src.why.Challenge); n > MaxChallengeBytes || n < MaxChallengeBytes-1 || !utf8.ValidString(src.why.Challenge) {
		t.Fatalf("a long challenge arrived with %d bytes (valid UTF-8: %v)", n, utf8.ValidString(src.why.Challenge))
	}
	// A status that is no HTTP status sends no rejection: the plugin's Refresh answers.
	calls := src.calls
	if _, err := c.RefreshRejected(context.Background(), Token{Value: "old"}, Rejection{Status: 1 << 40}); err != nil || src.calls != calls {
		t.Fatalf("an impossible status reached RefreshRejected (calls %d→%d, err %v)", calls, src.calls, err)
	}
}

func TestNewRejectionJoinsValues(t *testing.T) {
	r := NewRejection(401, []string{`Bearer realm="x"`, "Basic\x7f realm=\"y\""})
	if r.Status != 401 || r.Challenge != `Bearer realm="x", Basic realm="y"` {
		t.Fatalf("NewRejection = %+v", r)
	}
}

func TestRefreshRejectedDispatch(t *testing.T) {
	a := &aware{scripted: scripted{tok: Token{Value: "n"}}}
	if _, err := refreshRejected(context.Background(), a, Token{Value: "o"}, Rejection{}); err != nil || a.calls != 0 {
		t.Fatalf("no reason still went to RefreshRejected (calls %d, err %v)", a.calls, err)
	}
	if _, err := refreshRejected(context.Background(), a, Token{Value: "o"}, Rejection{Status: 401}); err != nil || a.calls != 1 {
		t.Fatalf("a reason did not reach RefreshRejected (calls %d, err %v)", a.calls, err)
	}
}
