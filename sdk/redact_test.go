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

func TestRedactTokens(t *testing.T) {
	const (
		jws  = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA"
		none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ."
		jwe  = "eyJhbGciOiJSU0EtT0FFUCJ9.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ"
		hex  = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		b64  = "dGhpcyBpcyBhIHNlY3JldCB0b2tlbiAxMjM0NQ=="
		b64u = "ya29_a0AfB-hX3kQ9zL2mP7vR8sT1uW4yZ6"
		b64s = "x4Kp9Lm2Qr8Tv5Wy1Za3/Bc6De7Fg0Hj+Ab"
	)
	for _, secret := range []string{jws, none, jwe, hex, b64, b64u, b64s} {
		in := "helper failed: token " + secret + " was refused (see log)"
		got := RedactTokens(in)
		if strings.Contains(got, secret) || strings.Contains(got, secret[:20]) || !strings.Contains(got, "[sha256:") ||
			!strings.HasPrefix(got, "helper failed: token [") || !strings.HasSuffix(got, "] was refused (see log)") {
			t.Errorf("RedactTokens(%q) = %q: want the token replaced by its fingerprint, the rest kept", in, got)
		}
	}
	for _, keep := range []string{
		"command /usr/local/bin/corp-credential-helper exited with status 3: login expired: run corp-cli login",
		"tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 trace 0b3c5a2e-1d4f-4e6a-9b8c-7d6e5f4a3b2c",
		"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token answered 400 invalid_grant",
		"providers.corp.options.subject_token_command: urn:ietf:params:oauth:token-type:access_token",
		"AADSTS700016: Application not found; fingerprint [sha256:1a2b3c4d]; /home/alice/.config/tokenhost/tokenhost.yaml",
		"eyeglasses.example.com and internationalization_of_everything",
		"/tmp/TestCorruptAuthFileKeepsItsOwnMessage185974107/001/auth.json is not valid JSON",
		"cannot read /var/folders/xx/abcd1234efgh5678_n0000gn/T/state.json",
		`cannot read C:\Users\alice\AppData\Local\Temp\TestCorruptAuthFile185974107\auth.json`,
	} {
		if got := RedactTokens(keep); got != keep {
			t.Errorf("RedactTokens(%q) = %q: ordinary text must stay", keep, got)
		}
	}
	if again := RedactTokens(RedactTokens(jws)); again != RedactTokens(jws) {
		t.Errorf("redacting twice changes the text: %q", again)
	}
}
