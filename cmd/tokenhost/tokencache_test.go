package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// The fingerprint of what a token's identity depends on changes with a file's content, its appearance or
// disappearance, a variable's value, a variable set or unset (an empty one is not an unset one), and a new
// variable under a prefix; it stays put otherwise, and holds no value.
func TestIdentitySum(t *testing.T) {
	dir := t.TempDir()
	adc := filepath.Join(dir, "adc.json")
	write := func(s string) {
		if err := os.WriteFile(adc, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"type":"authorized_user","refresh_token":"rt-alice"}`)
	refs := []identityRef{{File: adc}, {Env: "GOOGLE_APPLICATION_CREDENTIALS"}, {Env: "azure_*"}}
	salt := []byte("0123456789abcdef")
	env := []string{"GOOGLE_APPLICATION_CREDENTIALS=" + adc, "AZURE_TENANT_ID=t1", "PATH=/bin"}
	base := identitySum(refs, salt, env)
	if base != identitySum(refs, salt, env) {
		t.Fatal("the same state hashes differently")
	}
	if base == identitySum(refs, []byte("another-salt...."), env) {
		t.Error("two salts give one sum")
	}
	changes := []struct {
		name string
		env  []string
		file func()
	}{
		{"another unrelated variable", append(slices.Clone(env), "HOME=/elsewhere"), nil},
		{"the ADC variable names another file", []string{"GOOGLE_APPLICATION_CREDENTIALS=/other.json", "AZURE_TENANT_ID=t1", "PATH=/bin"}, nil},
		{"the ADC variable unset", []string{"AZURE_TENANT_ID=t1", "PATH=/bin"}, nil},
		{"the ADC variable empty", []string{"GOOGLE_APPLICATION_CREDENTIALS=", "AZURE_TENANT_ID=t1", "PATH=/bin"}, nil},
		{"a new variable under the prefix (any case)", append(slices.Clone(env), "Azure_Client_ID=c"), nil},
		{"a prefixed variable's value", []string{"GOOGLE_APPLICATION_CREDENTIALS=" + adc, "AZURE_TENANT_ID=t2", "PATH=/bin"}, nil},
		{"the file's content", env, func() { write(`{"type":"authorized_user","refresh_token":"rt-bob"}`) }},
		{"the file removed", env, func() { os.Remove(adc) }},
		{"the file back", env, func() { write(`{"type":"authorized_user","refresh_token":"rt-alice"}`) }},
	}
	for _, c := range changes {
		if c.file != nil {
			c.file()
		}
		got := identitySum(refs, salt, c.env)
		switch {
		case c.name == "another unrelated variable" || c.name == "the file back":
			if got != base {
				t.Errorf("%s changed the sum", c.name)
			}
		case got == base:
			t.Errorf("%s left the sum as it was", c.name)
		}
	}
	if _, err := hex.DecodeString(base); err != nil || len(base) != 64 {
		t.Errorf("the sum %q is not a hex HMAC-SHA256", base)
	}
}

// The plugin's IdentityFrom and the provider's env: list become the cache's references, files made
// absolute; a plugin naming neither or both fields in one source, or too many sources, gets no cache.
func TestIdentityRefs(t *testing.T) {
	pc := &config.Provider{Env: []string{"CORP_*"}}
	wd, _ := os.Getwd()
	refs, ok := identityRefs(sdk.Info{IdentityFrom: append([]sdk.IdentitySource{sdk.IdentityFile("rel/creds.json")}, sdk.IdentityEnv("GOOGLE_*")...)}, pc)
	want := []identityRef{{File: filepath.Join(wd, "rel", "creds.json")}, {Env: "GOOGLE_*"}, {Env: "CORP_*"}}
	if !ok || !slices.Equal(refs, want) {
		t.Fatalf("refs %+v (%v), want %+v", refs, ok, want)
	}
	for name, bad := range map[string][]sdk.IdentitySource{
		"neither":  {{}},
		"both":     {{File: "/a", Env: "B"}},
		"too many": sdk.IdentityEnv(slices.Repeat([]string{"X"}, maxIdentitySources)...),
	} {
		if _, ok := identityRefs(sdk.Info{IdentityFrom: bad}, pc); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A cached token is served until the wrapper's due rule says otherwise (half the life of a 60 s token,
// whatever refresh_before), and not at all once something its identity depends on changed.
func TestTokenCacheGet(t *testing.T) {
	c := tokenCache{dir: t.TempDir()}
	pc := &config.Provider{Name: "corp", Plugin: "gateway", RefreshBefore: 5 * time.Minute}
	creds := filepath.Join(t.TempDir(), "signin.json")
	if err := os.WriteFile(creds, []byte("alice"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CORP_TENANT", "one")
	issued := time.Now()
	salt := []byte("0123456789abcdef")
	refs := []identityRef{{File: creds}, {Env: "CORP_TENANT"}}
	ct := cachedToken{Token: sdk.Token{Value: "tok-alice", Expiry: issued.Add(time.Minute)}, Issued: issued,
		Identity: refs, Salt: hex.EncodeToString(salt), Sum: identitySum(refs, salt, os.Environ())}
	if err := c.put(pc, ct); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.get(pc, issued.Add(29*time.Second)); !ok || got.Token.Value != "tok-alice" {
		t.Fatal("a 60 s token is not served 29 s after it was issued")
	}
	if _, ok := c.get(pc, issued.Add(30*time.Second)); ok {
		t.Fatal("a 60 s token is served past half its life")
	}
	if _, ok := c.get(pc, issued.Add(-time.Second)); ok {
		t.Fatal("a token is served before it was issued (the clock went back)")
	}
	t.Setenv("CORP_TENANT", "two")
	if _, ok := c.get(pc, issued.Add(time.Second)); ok {
		t.Fatal("served after a variable it depends on changed")
	}
	t.Setenv("CORP_TENANT", "one")
	if err := os.WriteFile(creds, []byte("bob"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.get(pc, issued.Add(time.Second)); ok {
		t.Fatal("served after a file it depends on changed")
	}
	old := ct
	old.Issued = time.Time{} // written before the cache recorded issue times
	old.Sum = identitySum(refs, salt, os.Environ())
	if err := c.put(pc, old); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.get(pc, issued.Add(time.Second)); ok {
		t.Fatal("an entry without an issue time is served")
	}
}

// forget removes every cache file of one provider, whatever configuration wrote it, and no other's
// (corp-eu's files are not corp's).
func TestTokenCacheForget(t *testing.T) {
	c := tokenCache{dir: t.TempDir()}
	tok := cachedToken{Token: sdk.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, Issued: time.Now()}
	for _, pc := range []*config.Provider{
		{Name: "corp", Upstream: "https://a.example"}, {Name: "corp", Upstream: "https://b.example"},
		{Name: "corp-eu", Upstream: "https://a.example"},
	} {
		if err := c.put(pc, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.forget("corp"); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(c.dir, "*"))
	if len(left) != 1 || !cacheFileOf(filepath.Base(left[0]), "corp-eu") {
		t.Fatalf("left %v, want corp-eu's file alone", left)
	}
	if err := (tokenCache{dir: filepath.Join(t.TempDir(), "never-made")}).forget("corp"); err != nil {
		t.Fatalf("forget without a cache directory: %v", err)
	}
}
