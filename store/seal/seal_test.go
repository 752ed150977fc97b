package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustKey(t *testing.T) string {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t *testing.T, keys string) *Keyring {
	t.Helper()
	kr, err := ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTripHidesValue(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	secret := []byte("access-token-in-clear")
	sealed, err := kr.Seal("codex/token", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) || !strings.HasPrefix(string(sealed), "th1."+kr.Current()+".") {
		t.Fatalf("sealed value holds the secret or lacks the th1.<key id>. prefix")
	}
	got, err := kr.Open("codex/token", sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %v; want the original value", err)
	}
	if _, err := kr.Open("gemini/token", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open under another name = %v; want ErrWrongKey", err)
	}
}

func TestRotationReadsOldWritesNew(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	old := mustRing(t, oldKey)
	sealedOld, _ := old.Seal("p/k", []byte("v"))
	rotated := mustRing(t, newKey+","+oldKey)
	if got, err := rotated.Open("p/k", sealedOld); err != nil || string(got) != "v" {
		t.Fatalf("rotated ring opening an old value = %q, %v", got, err)
	}
	sealedNew, _ := rotated.Seal("p/k", []byte("v"))
	if !strings.HasPrefix(string(sealedNew), "th1."+rotated.Current()+".") || rotated.Current() == old.Current() {
		t.Fatal("a rotated ring must seal under the first (new) key")
	}
	if _, err := old.Open("p/k", sealedNew); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), rotated.Current()) {
		t.Fatalf("old ring opening a new value = %v; want ErrWrongKey naming the key id", err)
	}
}

func TestWrongKeyAndGarbageAreErrorsNotPanics(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	sealed, _ := kr.Seal("p/k", []byte("v"))
	other := mustRing(t, mustKey(t))
	if _, err := other.Open("p/k", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key = %v; want ErrWrongKey", err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := kr.Open("p/k", tampered); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open of a tampered value = %v; want ErrWrongKey", err)
	}
	for _, garbage := range []string{"", "plain", "th1.", "th1.12345678.", "th1." + kr.Current() + ".short"} {
		if _, err := kr.Open("p/k", []byte(garbage)); err == nil {
			t.Fatalf("Open(%q) succeeded", garbage)
		}
	}
}

func TestParseKeysErrorsNeverShowKeys(t *testing.T) {
	for _, bad := range []string{"", "not base64!!", "c2hvcnQ=" /* "short" */} {
		_, err := ParseKeys(bad)
		if err == nil {
			t.Fatalf("ParseKeys(%q) succeeded", bad)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Fatalf("error shows the key: %v", err)
		}
		if !strings.Contains(err.Error(), "tokenhost store keygen") {
			t.Fatalf("error does not say how to make a key: %v", err)
		}
	}
}

func TestHideNameShowsProviderOnly(t *testing.T) {
	h := HideName("gateway/alice@example.com")
	if !strings.HasPrefix(h, "gateway:") || strings.Contains(h, "alice") {
		t.Fatalf("HideName = %q; want gateway:<hash> without the rest", h)
	}
	if HideName("gateway/bob") == HideName("gateway/alice") {
		t.Fatal("two names hash alike")
	}
}

func FuzzOpen(f *testing.F) {
	kr, _ := ParseKeys("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	good, _ := kr.Seal("p/k", []byte("v"))
	f.Add(good)
	f.Add([]byte("th1."))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = kr.Open("p/k", b) })
}
