package sdk

import "testing"

func TestConstructorsCarryTheirKind(t *testing.T) {
	cases := []struct {
		err  error
		kind Kind
		msg  string
	}{
		{ReauthRequired("sign in again with %s", "tool login"), KindReauthRequired, "sign in again with tool login"},
		{Unavailable("endpoint %d down", 503), KindUnavailable, "endpoint 503 down"},
		{BadConfig("token_url", "must be %s", "https"), KindBadConfig, "token_url: must be https"},
		{Internal("plugin bug: %v", "nil map"), KindInternal, "plugin bug: nil map"},
	}
	for _, c := range cases {
		if KindOf(c.err) != c.kind || !IsKind(c.err, c.kind) || c.err.Error() != c.msg {
			t.Errorf("%v: kind %s, want %s; message %q, want %q", c.err, KindOf(c.err), c.kind, c.err.Error(), c.msg)
		}
	}
}
