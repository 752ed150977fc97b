package sdk

import (
	"strings"
	"testing"
)

func TestCheckToken(t *testing.T) {
	good := []Token{
		{Value: "eyJhbGciOi.JzdWIiOiIx.abc-_~+/="},
		{Value: "k", Headers: map[string]string{"ChatGPT-Account-ID": "acc-1", "X-Goog-User-Project": "p\tq"}},
		{}, // empty: left to the host
	}
	for _, tok := range good {
		if err := CheckToken(tok); err != nil {
			t.Errorf("%v refused: %v", tok.Headers, err)
		}
	}
	bad := map[string]Token{
		"Value":                     {Value: "a\nb"},
		`Headers["Host"]`:           {Value: "k", Headers: map[string]string{"Host": "x"}},
		`Headers["te"]`:             {Value: "k", Headers: map[string]string{"te": "trailers"}},
		`Headers["X-A"]`:            {Value: "k", Headers: map[string]string{"X-A": "a\x00b"}},
		`Headers["X:A"]`:            {Value: "k", Headers: map[string]string{"X:A": "a"}},
		`Headers["Content-Length"]`: {Value: "k", Headers: map[string]string{"Content-Length": "1"}},
	}
	for field, tok := range bad {
		err := CheckToken(tok)
		if err == nil || !strings.HasPrefix(err.Error(), field+":") || KindOf(err) != KindInternal {
			t.Errorf("%s: err = %v, want an Internal error starting with the field", field, err)
		}
	}
}
