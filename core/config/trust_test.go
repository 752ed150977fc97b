package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trustEnv is a search layout whose trust store is in the test's own state directory.
func trustEnv(t *testing.T) (searchEnv, []string) {
	e := newSearchEnv(t)
	return e, []string{"HOME=" + e.home, "XDG_CONFIG_HOME=" + e.xdg, "XDG_STATE_HOME=" + filepath.Join(e.root, "state")}
}

// wantUntrusted fails the test unless err is Load's refusal of path, naming the command that trusts it.
func wantUntrusted(t *testing.T, what string, err error, path, reason string) {
	t.Helper()
	if !errors.Is(err, ErrNotTrusted) {
		t.Fatalf("%s: want a refusal wrapping ErrNotTrusted, got %v", what, err)
	}
	for _, s := range []string{path + " " + reason, "`tokenhost config trust " + path + "`", "--config"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: the error lacks %q: %v", what, s, err)
		}
	}
}

const workDirConfig = "providers:\n  corp:\n    plugin: ./plug\n    upstream: https://llm.example.com/v1\n"

// A tokenhost.yaml in the working directory loads only while the content that was trusted stays the
// same; it is never skipped in favour of the user's own file.
func TestWorkDirConfigNeedsTrust(t *testing.T) {
	e, env := trustEnv(t)
	p := writeFile(t, e.wd, "tokenhost.yaml", workDirConfig)
	writeFile(t, e.xdg, "tokenhost/tokenhost.yaml", "providers: {}\n") // must not be used instead
	s := Sources{Environ: env, Dir: e.wd, Builtins: builtins}

	_, err := Load(s)
	wantUntrusted(t, "before trust", err, p, "is not trusted")
	if _, err := Show(s, ""); !errors.Is(err, ErrNotTrusted) {
		t.Errorf("config show of an untrusted file: %v", err)
	}

	got, sum, err := Trust(s, "")
	want := sha256.Sum256([]byte(workDirConfig))
	if err != nil || got != p || sum != hex.EncodeToString(want[:]) {
		t.Fatalf("Trust = %q, %q, %v; want %q and the content's sha256", got, sum, err, p)
	}
	cfg, err := Load(s)
	if err != nil {
		t.Fatalf("after trust: %v", err)
	}
	if cfg.Source != p || !cfg.NeedsTrust || len(cfg.Providers) != 1 {
		t.Errorf("after trust: Source %q, NeedsTrust %v, %d providers", cfg.Source, cfg.NeedsTrust, len(cfg.Providers))
	}

	writeFile(t, e.wd, "tokenhost.yaml", strings.Replace(workDirConfig, "llm.example.com", "evil.example", 1))
	_, err = Load(s)
	wantUntrusted(t, "after an edit", err, p, "changed since it was trusted")
	// A reload names the file it loaded first; it is checked the same way.
	_, err = Load(Sources{File: p, NeedsTrust: true, Environ: env, Builtins: builtins})
	wantUntrusted(t, "reload after an edit", err, p, "changed since it was trusted")

	if _, _, err := Trust(s, "tokenhost.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(s); err != nil {
		t.Fatalf("after trusting the edit: %v", err)
	}
	if got, removed, err := Untrust(s, p); err != nil || !removed || got != p {
		t.Fatalf("Untrust = %q, %v, %v", got, removed, err)
	}
	_, err = Load(s)
	wantUntrusted(t, "after untrust", err, p, "is not trusted")
}

// Trust binds a path and a content: the same bytes in another directory (where relative plugin paths
// name other files) are not trusted.
func TestTrustIsPerPath(t *testing.T) {
	e, env := trustEnv(t)
	writeFile(t, e.wd, "tokenhost.yaml", workDirConfig)
	other := writeFile(t, e.root, "clone/tokenhost.yaml", workDirConfig)
	if _, _, err := Trust(Sources{Environ: env, Dir: e.wd}, ""); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Sources{Environ: env, Dir: filepath.Dir(other), Builtins: builtins})
	wantUntrusted(t, "same content elsewhere", err, other, "is not trusted")
	if IsTrusted(Sources{Environ: env}, filepath.Join(e.wd, FileName), []byte(workDirConfig+"# more\n")) {
		t.Error("IsTrusted accepts other bytes than those trusted")
	}
}

// A file the user named, or one in their own configuration directory, needs no trust.
func TestChosenConfigNeedsNoTrust(t *testing.T) {
	e, env := trustEnv(t)
	p := writeFile(t, e.wd, "tokenhost.yaml", workDirConfig)
	xdg := writeFile(t, e.xdg, "tokenhost/tokenhost.yaml", "providers: {}\n")
	cases := []struct {
		name string
		s    Sources
		want string
	}{
		{"--config", Sources{File: "tokenhost.yaml", Environ: env, Dir: e.wd}, p},
		{"TOKENHOST_CONFIG", Sources{Environ: append(env, "TOKENHOST_CONFIG="+p), Dir: e.wd}, p},
		{"XDG_CONFIG_HOME", Sources{Environ: env, Dir: e.root}, xdg},
		{"working directory is the configuration directory", Sources{Environ: env, Dir: filepath.Dir(xdg)}, xdg},
	}
	for _, c := range cases {
		c.s.Builtins = builtins
		cfg, err := Load(c.s)
		if err != nil || cfg.Source != c.want || cfg.NeedsTrust {
			t.Errorf("%s: %v (%+v)", c.name, err, cfg)
		}
	}
}

// The trust store is 0600 in a 0700 directory, keeps keys it does not know, and is refused when others
// can write it.
func TestTrustStoreFile(t *testing.T) {
	e, env := trustEnv(t)
	s := Sources{Environ: env, Dir: e.wd, Builtins: builtins}
	writeFile(t, e.wd, "tokenhost.yaml", workDirConfig)
	store, err := TrustStore(s)
	if err != nil || store != filepath.Join(e.root, "state", "tokenhost", "trusted-configs.json") {
		t.Fatalf("TrustStore = %q, %v", store, err)
	}
	if err := os.MkdirAll(filepath.Dir(store), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store, []byte(`{"note": {"kept": true}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Trust(s, ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(store)
	di, derr := os.Stat(filepath.Dir(store))
	if err != nil || derr != nil || fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("store mode %v, directory mode %v (%v, %v); want 0600 and 0700", fi.Mode(), di.Mode(), err, derr)
	}
	data, _ := os.ReadFile(store)
	if !strings.Contains(string(data), `"note": {`) || !strings.Contains(string(data), `"kept": true`) {
		t.Errorf("an unknown key was lost:\n%s", data)
	}
	if got, err := TrustStore(Sources{Environ: []string{"HOME=" + e.home, "XDG_STATE_HOME=relative"}}); err != nil || got != filepath.Join(e.home, ".local", "state", "tokenhost", "trusted-configs.json") {
		t.Errorf("relative XDG_STATE_HOME: %q, %v; want the HOME default", got, err)
	}
}
