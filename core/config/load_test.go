package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

// searchEnv builds a temp layout for the search order: a working directory, HOME and XDG_CONFIG_HOME.
type searchEnv struct {
	root, wd, home, xdg string
}

func newSearchEnv(t *testing.T) searchEnv {
	root := t.TempDir()
	return searchEnv{root: root, wd: filepath.Join(root, "wd"), home: filepath.Join(root, "home"), xdg: filepath.Join(root, "xdg")}
}

func TestLocateSearchOrder(t *testing.T) {
	e := newSearchEnv(t)
	explicit := writeFile(t, e.root, "explicit.yaml", "")
	fromEnv := writeFile(t, e.root, "env.yaml", "")
	local := writeFile(t, e.wd, "tokenhost.yaml", "")
	xdg := writeFile(t, e.xdg, "tokenhost/tokenhost.yaml", "")
	homeCfg := writeFile(t, e.home, ".config/tokenhost/tokenhost.yaml", "")

	full := []string{"HOME=" + e.home, "XDG_CONFIG_HOME=" + e.xdg, "TOKENHOST_CONFIG=" + fromEnv}
	cases := []struct {
		name string
		s    Sources
		want string
	}{
		{"explicit first", Sources{File: explicit, Environ: full, Dir: e.wd}, explicit},
		{"explicit relative to Dir", Sources{File: "../explicit.yaml", Environ: full, Dir: e.wd}, explicit},
		{"TOKENHOST_CONFIG", Sources{Environ: full, Dir: e.wd}, fromEnv},
		{"working directory", Sources{Environ: full[:2], Dir: e.wd}, local},
		{"XDG_CONFIG_HOME", Sources{Environ: full[:2], Dir: e.root}, xdg},
		{"HOME/.config", Sources{Environ: full[:1], Dir: e.root}, homeCfg},
		{"relative XDG_CONFIG_HOME ignored", Sources{Environ: []string{"HOME=" + e.home, "XDG_CONFIG_HOME=xdg"}, Dir: e.root}, homeCfg},
		{"embedded default", Sources{Environ: []string{"HOME=" + e.root}, Dir: e.root}, ""},
		{"no HOME", Sources{Dir: e.root}, ""},
	}
	for _, c := range cases {
		got, err := Locate(c.s)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: Locate = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLocateExplicitMissing(t *testing.T) {
	e := newSearchEnv(t)
	writeFile(t, e.wd, "tokenhost.yaml", "") // must not be used as a fallback
	missing := filepath.Join(e.root, "missing.yaml")

	_, err := Locate(Sources{File: missing, Dir: e.wd})
	if err == nil || !strings.Contains(err.Error(), "--config "+missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing --config: %v", err)
	}
	_, err = Load(Sources{Environ: []string{"TOKENHOST_CONFIG=" + missing}, Dir: e.wd})
	if err == nil || !strings.Contains(err.Error(), "TOKENHOST_CONFIG "+missing) {
		t.Errorf("missing TOKENHOST_CONFIG: %v", err)
	}
	_, err = Locate(Sources{File: e.root, Dir: e.wd})
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory as --config: %v", err)
	}
}

func TestLocateTilde(t *testing.T) {
	e := newSearchEnv(t)
	p := writeFile(t, e.home, "my.yaml", "")
	got, err := Locate(Sources{File: "~/my.yaml", Environ: []string{"HOME=" + e.home}, Dir: e.root})
	if err != nil || got != p {
		t.Errorf("Locate(~/my.yaml) = %q, %v; want %q", got, err, p)
	}
}

func TestLoad(t *testing.T) {
	e := newSearchEnv(t)
	p := writeFile(t, e.wd, "tokenhost.yaml", "providers:\n  corp:\n    plugin: ./plug\n    upstream: https://llm.example.com/v1\n")
	cfg, err := Load(Sources{File: p, Dir: e.root, Builtins: builtins})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != p || cfg.NeedsTrust {
		t.Errorf("Source = %q, want %q", cfg.Source, p)
	}
	if want := filepath.Join(e.wd, "plug"); cfg.Providers[0].Plugin != want {
		t.Errorf("plugin = %q, want %q", cfg.Providers[0].Plugin, want)
	}

	writeFile(t, e.wd, "tokenhost.yaml", "server:\n  listen: [\n")
	_, err = Load(Sources{File: p, Builtins: builtins})
	if err == nil || !strings.HasPrefix(err.Error(), p+": line ") {
		t.Errorf("syntax error should start with %q and a line: %v", p, err)
	}
}

func TestLoadEmbeddedDefault(t *testing.T) {
	cfg, err := Load(Sources{Dir: t.TempDir(), Builtins: builtins})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != EmbeddedSource || cfg.Server.Listen != DefaultListen {
		t.Errorf("got %+v", cfg)
	}
}

// TestLoadErrorsKeepCause checks that the source is named once and the parser's error stays reachable.
func TestLoadErrorsKeepCause(t *testing.T) {
	e := newSearchEnv(t)
	p := writeFile(t, e.wd, "tokenhost.yaml", "- a\n- b\n")
	_, err := Load(Sources{File: p, Builtins: builtins})
	var te *yamlv3.TypeError
	if !errors.As(err, &te) || strings.Count(err.Error(), p) != 1 || !strings.HasPrefix(err.Error(), p+": line 1: ") {
		t.Errorf("list document: %v (%T)", err, err)
	}

	writeFile(t, e.wd, "tokenhost.yaml", "server:\n  listen: 0.0.0.0:1\n")
	_, err = Load(Sources{File: p, Builtins: builtins})
	if err == nil || !strings.HasPrefix(err.Error(), p+": server.listen: ") || strings.Count(err.Error(), p) != 1 {
		t.Errorf("validation error should be prefixed by the file once: %v", err)
	}
}
