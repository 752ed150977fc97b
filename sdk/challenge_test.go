package sdk

import (
	"reflect"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Challenge
	}{
		{`Bearer`, []Challenge{{Scheme: "Bearer"}}},
		{`Bearer realm="example", error="insufficient_scope", scope="files:read files:write"`,
			[]Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": "example", "error": "insufficient_scope", "scope": "files:read files:write"}}}},
		{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
			[]Challenge{{Scheme: "Newauth", Params: map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}}, {Scheme: "Basic", Params: map[string]string{"realm": "simple"}}}},
		{`Negotiate abc+/de==, Bearer resource_metadata="https://x.example/.well-known/oauth-protected-resource"`,
			[]Challenge{{Scheme: "Negotiate", Token68: "abc+/de=="}, {Scheme: "Bearer", Params: map[string]string{"resource_metadata": "https://x.example/.well-known/oauth-protected-resource"}}}},
		{`Bearer ERROR = "a,b" , Error=second`, []Challenge{{Scheme: "Bearer", Params: map[string]string{"error": "a,b"}}}},
		{`Bearer error="insufficient_scope`, []Challenge{{Scheme: "Bearer"}}},
		{`, ,Bearer realm="x",, scope="y"`, []Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": "x", "scope": "y"}}}},
		{`"junk", Bearer error=invalid_token`, []Challenge{{Scheme: "Bearer", Params: map[string]string{"error": "invalid_token"}}}},
		{`Bearer claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ==", error="insufficient_claims"`,
			[]Challenge{{Scheme: "Bearer", Params: map[string]string{"claims": "eyJhY2Nlc3NfdG9rZW4iOnt9fQ==", "error": "insufficient_claims"}}}},
		{``, nil},
	} {
		if got := ParseChallenges(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseChallenges(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
		}
	}
}

func TestInsufficientScope(t *testing.T) {
	for in, want := range map[string]bool{
		`Bearer error="insufficient_scope", scope="a"`:     true,
		`Basic realm="x", bearer error=insufficient_scope`: true,
		`Bearer error="invalid_token"`:                     false,
		`Basic error="insufficient_scope"`:                 false,
		`Bearer realm="error=\"insufficient_scope\""`:      false,
		``: false,
	} {
		if got := InsufficientScope(in); got != want {
			t.Errorf("InsufficientScope(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Bearer realm="a\"b", error=insufficient_scope`, `Basic abc==, Bearer`, `"`, `a b=c d e`, `,=,"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range ParseChallenges(s) {
			if c.Scheme == "" {
				t.Fatalf("a challenge without a scheme from %q", s)
			}
			if len(c.Scheme)+len(c.Token68) > len(s) {
				t.Fatalf("parts longer than the input %q", s)
			}
			for k, v := range c.Params {
				if k == "" || len(k)+len(v) > len(s) {
					t.Fatalf("param %q=%q from %q", k, v, s)
				}
			}
		}
		_ = InsufficientScope(s)
		if c := cleanChallenge(s); len(c) > MaxChallengeBytes {
			t.Fatalf("cleanChallenge left %d bytes", len(c))
		}
	})
}
