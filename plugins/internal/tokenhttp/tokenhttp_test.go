package tokenhttp

import (
	"errors"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/netaddr"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"[::1]": false, "10.0.0.1": false, "localhost.example": false, "example.com": false, "": false,
	} {
		if got := netaddr.IsLoopback(host); got != want {
			t.Errorf("netaddr.IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{"abc": false, "a b": false, "a\tb": true, "a\nb": true, "a\x7fb": true, "a\u0085b": true, "é": false} {
		if got := HasControl(s); got != want {
			t.Errorf("HasControl(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestReadBody(t *testing.T) {
	if data, err := ReadBody(strings.NewReader("12345"), 5); err != nil || string(data) != "12345" {
		t.Errorf("ReadBody at the limit = %q, %v", data, err)
	}
	if data, err := ReadBody(strings.NewReader("123456"), 5); !errors.Is(err, ErrTooLarge) || data != nil {
		t.Errorf("ReadBody over the limit = %q, %v; want ErrTooLarge and nothing read", data, err)
	}
}
