package sdk

import (
	"strings"
	"testing"
)

func TestIsSecretKey(t *testing.T) {
	for k, want := range map[string]bool{
		"client_secret": true, "password": true, "api_key": true, "private_key": true, "refresh_token": true,
		"token": true, "key": true, "client_assertion": true,
		"token_url": false, "auth_file": false, "ca_file": false, "client_id": false, "scopes": false, "certificate_file": false,
		"credential": false, "credentials_file": false, // a mode name and a path, not secrets
	} {
		if got := IsSecretKey(k); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestRedactAndFingerprint(t *testing.T) {
	s := RedactString("failed with s3cr3t-value in it", "s3cr3t-value", "")
	if strings.Contains(s, "s3cr3t-value") || !strings.Contains(s, "sha256:") {
		t.Fatalf("redacted = %q", s)
	}
	a1, a2 := Fingerprint("a"), Fingerprint("a")
	if a1 == Fingerprint("b") || a1 != a2 {
		t.Fatal("fingerprints must be stable and distinguish values")
	}
}

func TestOptionsAccessors(t *testing.T) {
	o := Options{"s": "x", "n": 5.0, "d": "90s", "l": []any{"a", "b"}, "bad": 3.0, "m": map[string]any{"k": "v", "n": 1.0}}
	if v, err := o.String("s", ""); v != "x" || err != nil {
		t.Fatal(v, err)
	}
	if _, err := o.String("bad", ""); KindOf(err) != KindBadConfig || !strings.HasPrefix(err.Error(), "bad:") {
		t.Fatalf("wrong type error = %v", err)
	}
	if d, err := o.Duration("d", 0); err != nil || d.Seconds() != 90 {
		t.Fatal(d, err)
	}
	if d, err := o.Duration("n", 0); err != nil || d.Seconds() != 5 {
		t.Fatal(d, err)
	}
	if l, err := o.Strings("l"); err != nil || len(l) != 2 {
		t.Fatal(l, err)
	}
	if m, err := o.StringMap("m"); err != nil || m["k"] != "v" || m["n"] != "1" {
		t.Fatal(m, err)
	}
	err := Options{"tokn_url": "x"}.Unknown("token_url", "client_id")
	if err == nil || !strings.Contains(err.Error(), `"token_url"`) {
		t.Fatalf("unknown key error = %v, want a suggestion", err)
	}
}
