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
	if err := CheckToken(Token{Value: strings.Repeat("a", MaxTokenBytes)}); err != nil {
		t.Errorf("a token of MaxTokenBytes refused: %v", err)
	}
	if err := CheckToken(Token{Value: strings.Repeat("a", MaxTokenBytes+1)}); err == nil || !strings.HasPrefix(err.Error(), "Value:") ||
		!strings.Contains(err.Error(), "65537 bytes, more than the 65536") || strings.Contains(err.Error(), "aaaa") {
		t.Errorf("a token over MaxTokenBytes: err = %v, want an error naming its length and the limit", err)
	}
	for field, tok := range bad {
		err := CheckToken(tok)
		if err == nil || !strings.HasPrefix(err.Error(), field+":") || KindOf(err) != KindInternal {
			t.Errorf("%s: err = %v, want an Internal error starting with the field", field, err)
		}
	}
}
