package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/sealtest"
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

func mustSeal(t *testing.T, kr *Keyring, name string, m Meta, value string) []byte {
	t.Helper()
	b, err := kr.Seal(name, m, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var v1 = Meta{Chain: 100, Version: 1}

func TestSealOpenRoundTripHidesValue(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	secret := []byte("access-token-in-clear")
	want := Meta{Expires: true, Chain: 1234567890, Version: 7}
	sealed, err := kr.Seal("codex/token", want, secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) || !strings.HasPrefix(string(sealed), "th2."+kr.Current()+".") {
		t.Fatalf("sealed value holds the secret or lacks the th2.<key id>. prefix")
	}
	got, m, err := kr.Open("codex/token", sealed)
	if err != nil || !bytes.Equal(got, secret) || m != want {
		t.Fatalf("Open = %v, %+v; want the original value and %+v", err, m, want)
	}
	if _, _, err := kr.Open("gemini/token", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open under another name = %v; want ErrWrongKey", err)
	}
	if _, err := kr.Seal("codex/token", Meta{}, secret); err == nil {
		t.Fatal("Seal with version 0 succeeded; 0 stands for th1 values")
	}
}

// TestTh1ValuesStillOpen: a value sealed by a release before versions opens, as version 0; relabelled
// th2, it does not (th2 seals under a subkey, not the key itself).
func TestTh1ValuesStillOpen(t *testing.T) {
	key := mustKey(t)
	kr := mustRing(t, key)
	old := sealtest.SealV1(t, key, "p/k", []byte("v"))
	got, m, err := kr.Open("p/k", old)
	if err != nil || string(got) != "v" || m != (Meta{}) {
		t.Fatalf("Open(th1) = %q, %+v, %v; want v as version 0", got, m, err)
	}
	relabelled := append([]byte("th2."), old[4:]...)
	if _, _, err := kr.Open("p/k", relabelled); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open of a th1 value relabelled th2 = %v; want ErrWrongKey", err)
	}
}

func TestRotationReadsOldWritesNew(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	old := mustRing(t, oldKey)
	sealedOld := mustSeal(t, old, "p/k", v1, "v")
	rotated := mustRing(t, newKey+","+oldKey)
	if got, _, err := rotated.Open("p/k", sealedOld); err != nil || string(got) != "v" {
		t.Fatalf("rotated ring opening an old value = %q, %v", got, err)
	}
	if got, _, err := rotated.Open("p/k", sealtest.SealV1(t, oldKey, "p/k", []byte("v1"))); err != nil || string(got) != "v1" {
		t.Fatalf("rotated ring opening an old th1 value = %q, %v", got, err)
	}
	sealedNew := mustSeal(t, rotated, "p/k", v1, "v")
	if !strings.HasPrefix(string(sealedNew), "th2."+rotated.Current()+".") || rotated.Current() == old.Current() {
		t.Fatal("a rotated ring must seal under the first (new) key")
	}
	if _, _, err := old.Open("p/k", sealedNew); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), rotated.Current()) {
		t.Fatalf("old ring opening a new value = %v; want ErrWrongKey naming the key id", err)
	}
}

// TestTombstones: a tombstone opens as Moved with no value for a ring holding the key that sealed it;
// a ring without that key gets ErrWrongKey naming its id; the previous release's reader (th1 only) does
// not open it. Lease names depend on no key and are the previous release's.
func TestTombstones(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	rb := mustRing(t, b+","+a)
	tomb := mustSeal(t, rb, "p/plugin/k", Meta{Moved: true, Chain: 5, Version: 2}, "")
	v, m, err := mustRing(t, a+","+b).Open("p/plugin/k", tomb)
	if err != nil || len(v) != 0 || m != (Meta{Moved: true, Chain: 5, Version: 2}) {
		t.Fatalf("Open(tombstone) = %q, %+v, %v; want no value, Moved", v, m, err)
	}
	if _, _, err := mustRing(t, a).Open("p/plugin/k", tomb); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), rb.Current()) {
		t.Fatalf("Open(tombstone) without its key = %v; want ErrWrongKey naming key id %s", err, rb.Current())
	}
	if _, err := sealtest.OpenV1(t, b, "p/plugin/k", tomb); err == nil || !strings.Contains(err.Error(), "not a sealed tokenhost value") {
		t.Fatalf("the previous release opening a tombstone = %v; want its \"not a sealed tokenhost value\" error", err)
	}
	if got := LeaseName("p/access-token"); got != sealtest.LegacyName("p/access-token")+":lease" {
		t.Fatalf("LeaseName = %q; want the unkeyed name and :lease", got)
	}
}

func TestWrongKeyAndGarbageAreErrorsNotPanics(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	sealed := mustSeal(t, kr, "p/k", v1, "v")
	other := mustRing(t, mustKey(t))
	if _, _, err := other.Open("p/k", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key = %v; want ErrWrongKey", err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, _, err := kr.Open("p/k", tampered); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open of a tampered value = %v; want ErrWrongKey", err)
	}
	for _, garbage := range []string{"", "plain", "th1.", "th2.", "th2.12345678.", "th3." + kr.Current() + ".0123456789abcdef0123456789abcdef",
		"th1." + kr.Current() + ".short", "th2." + kr.Current() + ".short"} {
		if _, _, err := kr.Open("p/k", []byte(garbage)); err == nil {
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

// TestNamesAreKeyed: a store name shows the provider only, depends on the current key (so it is not the
// unkeyed hash anyone can compute for a guessed name), and a rotated ring looks under the older key's
// name and then the unkeyed one.
func TestNamesAreKeyed(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	r1, r2 := mustRing(t, k1), mustRing(t, k2)
	const name = "gateway/alice@example.com"
	n1, n2 := r1.Name(name), r2.Name(name)
	for _, n := range []string{n1, n2} {
		if !strings.HasPrefix(n, "gateway:") || strings.Contains(n, "alice") || len(n) != len("gateway:")+nameHexLen {
			t.Fatalf("Name = %q; want gateway:<%d hex characters> without the rest", n, nameHexLen)
		}
	}
	if n1 == n2 {
		t.Fatal("two encryption keys give one name")
	}
	if n1 == sealtest.LegacyName(name) || n1 == legacyName(name) {
		t.Fatal("the name is the unkeyed hash")
	}
	if legacyName(name) != sealtest.LegacyName(name) {
		t.Fatal("legacyName is not the name releases before keyed names wrote")
	}
	if r1.Name("gateway/bob") == n1 {
		t.Fatal("two names hash alike")
	}
	rotated := mustRing(t, k2+"\n"+k1+","+k1)
	if rotated.Name(name) != n2 {
		t.Fatal("a rotated ring does not name under its current key")
	}
	if got := rotated.OlderNames(name); len(got) != 2 || got[0] != n1 || got[1] != legacyName(name) {
		t.Fatalf("OlderNames = %q; want the old key's name, then the unkeyed one", got)
	}
	if got := r1.OlderNames(name); len(got) != 1 || got[0] != legacyName(name) {
		t.Fatalf("OlderNames of a one-key ring = %q; want the unkeyed name", got)
	}
}

func TestVersionsRefuseRollbacks(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	durable := func(chain int64, v uint64) Meta { return Meta{Chain: chain, Version: v} }
	expiring := func(chain int64, v uint64) Meta { return Meta{Expires: true, Chain: chain, Version: v} }
	cases := []struct {
		what     string
		seen     Meta
		next     Meta
		sameByte bool
		refused  bool
	}{
		{"newer version", durable(10, 3), durable(10, 4), false, false},
		{"the same value again", durable(10, 3), durable(10, 3), true, false},
		{"older version", durable(10, 3), durable(10, 2), false, true},
		{"same version, other bytes", durable(10, 3), durable(10, 3), false, true},
		{"earlier chain of a key without expiry", durable(10, 3), durable(9, 8), false, true},
		{"th1 value after a th2 one without expiry", durable(10, 3), Meta{}, false, true},
		{"later chain of a key without expiry", durable(10, 3), durable(11, 1), false, false},
		{"older version of an expiring key", expiring(10, 3), expiring(10, 2), false, true},
		{"same version, other bytes, expiring", expiring(10, 3), expiring(10, 3), false, true},
		{"expiring key written afresh, earlier clock", expiring(10, 3), expiring(9, 1), false, false},
		{"expiring key written afresh, later clock", expiring(10, 3), expiring(11, 1), false, false},
	}
	for _, c := range cases {
		v := NewVersions()
		first := mustSeal(t, kr, "gateway/plugin/signin", c.seen, "seen")
		if err := v.Opened("gateway/plugin/signin", c.seen, first); err != nil {
			t.Fatalf("%s: first value refused: %v", c.what, err)
		}
		second := first
		if !c.sameByte {
			second = []byte("other bytes")
		}
		err := v.Opened("gateway/plugin/signin", c.next, second)
		if (err != nil) != c.refused || (err != nil && !errors.Is(err, ErrRolledBack)) {
			t.Errorf("%s: Opened = %v; want refused %v", c.what, err, c.refused)
		}
		if err != nil && (!strings.Contains(err.Error(), "provider gateway") || !strings.Contains(err.Error(), "rolled back") || strings.Contains(err.Error(), "seen")) {
			t.Errorf("%s: error %q does not name the provider and say rolled back, or shows the value", c.what, err)
		}
	}
}

// TestVersionsNext: a write continues the chain it replaces, or starts one later than any seen, and a
// host remembers what it wrote.
func TestVersionsNext(t *testing.T) {
	v := NewVersions()
	stored := Meta{Chain: 50, Version: 4}
	if got := v.Next("p/k", &stored, false); got != (Meta{Chain: 50, Version: 5}) {
		t.Fatalf("Next over version 4 = %+v; want version 5 of the same chain", got)
	}
	future := Meta{Chain: 1 << 62, Version: 9} // a chain started on a clock far ahead of this one
	if err := v.Opened("p/k", future, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := v.Next("p/k", nil, true); !got.Expires {
		t.Fatalf("Next with an expiry = %+v; want Expires", got)
	}
	fresh := v.Next("p/k", nil, false)
	if fresh.Version != 1 || fresh.Chain <= future.Chain || fresh.Expires {
		t.Fatalf("Next over nothing = %+v; want version 1 of a chain after %d", fresh, future.Chain)
	}
	v.Wrote("p/k", fresh, []byte("y"))
	if err := v.Opened("p/k", future, []byte("x")); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("after writing a new chain, the old chain's value = %v; want ErrRolledBack", err)
	}
	v.Wrote("p/k", future, []byte("x")) // older than what it remembers: ignored
	if err := v.Opened("p/k", fresh, []byte("y")); err != nil {
		t.Fatalf("Wrote of an older value replaced a newer one: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	kr, _ := ParseKeys(key)
	good, _ := kr.Seal("p/k", Meta{Chain: 1, Version: 1}, []byte("v"))
	f.Add(good)
	f.Add([]byte("th1."))
	f.Add([]byte("th2."))
	f.Add(sealtest.SealV1(f, key, "p/k", []byte("v")))
	v := NewVersions()
	f.Fuzz(func(t *testing.T, b []byte) {
		plain, m, err := kr.Open("p/k", b)
		if err != nil {
			if plain != nil || m != (Meta{}) {
				t.Fatalf("Open failed but returned a value or a Meta")
			}
			return
		}
		_ = v.Opened("p/k", m, b)
	})
}
