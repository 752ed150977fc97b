package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/internal/homedir"
)

// EmbeddedSource is Config.Source when no configuration file was found and the embedded default was used.
const EmbeddedSource = "embedded default"

// FileName is the configuration file name looked up in the working directory and in $XDG_CONFIG_HOME/tokenhost.
const FileName = "tokenhost.yaml"

// Sources says where configuration may come from.
type Sources struct {
	// File is the explicit --config path ("" = search).
	File string
	// Environ is the environment as KEY=VALUE (os.Environ() in production); it supplies TOKENHOST_CONFIG,
	// TOKENHOST_* overrides, XDG_CONFIG_HOME, HOME and the variables named by *_env secrets.
	Environ []string
	// Builtins are the names of the built-in plugins (e.g. ["gateway"]).
	Builtins []string
	// Dir is the working directory for the ./tokenhost.yaml lookup and relative paths ("" = os.Getwd()).
	Dir string
	// NeedsTrust says that File was not chosen by the user but found in the working directory, so it
	// loads only while its content is trusted; a reload passes the Config.NeedsTrust of the first load.
	NeedsTrust bool
}

// Load finds the configuration (see Locate), reads it once, refusing a file that another user could
// change and a working-directory file whose content is not trusted (see Trust), parses those very bytes,
// applies TOKENHOST_ environment overrides and validates the result; the error lists every problem found,
// one per line.
func Load(s Sources) (*Config, error) {
	data, source, needsTrust, err := readConfig(s)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data, source, s)
	if err != nil {
		var located *sourceError
		if source != EmbeddedSource && !errors.As(err, &located) {
			err = fmt.Errorf("%s: %w", source, err)
		}
		return nil, err
	}
	cfg.NeedsTrust = needsTrust
	return cfg, nil
}

// Locate returns the configuration file to use, or "" meaning the embedded default. It tries, in order,
// s.File, $TOKENHOST_CONFIG, ./tokenhost.yaml in s.Dir, and $XDG_CONFIG_HOME/tokenhost/tokenhost.yaml
// (XDG_CONFIG_HOME defaulting to $HOME/.config). An explicit file that does not exist is an error. Locate
// does not say whether the file may be loaded: Load also checks its owner, its mode and, for
// ./tokenhost.yaml, that its content is trusted.
func Locate(s Sources) (string, error) {
	loc, err := locate(s)
	return loc.path, err
}

// located is a configuration file and whether it loads only when trusted.
type located struct {
	path       string // "" = the embedded default
	needsTrust bool   // found in the working directory, outside the user's configuration directory
}

// locate is Locate, also saying whether the file needs trust: one the user did not name and that is
// not in their own configuration directory.
func locate(s Sources) (located, error) {
	env := environMap(s.Environ)
	dir, err := workDir(s)
	if err != nil {
		return located{}, err
	}
	if s.NeedsTrust && s.File != "" {
		p, err := absPath(s.File, dir, env)
		return located{path: p, needsTrust: true}, err
	}
	explicit := []struct{ path, what string }{
		{s.File, "--config"},
		{env["TOKENHOST_CONFIG"], "TOKENHOST_CONFIG"},
	}
	for _, e := range explicit {
		if e.path == "" {
			continue
		}
		p, err := absPath(e.path, dir, env)
		if err != nil {
			return located{}, fmt.Errorf("%s %s: %w", e.what, e.path, err)
		}
		if err := checkFile(p); err != nil {
			return located{}, fmt.Errorf("%s %s: %w", e.what, p, err)
		}
		return located{path: p}, nil
	}

	userDir := ""
	if xdg := xdgConfigHome(env); xdg != "" {
		userDir = filepath.Join(xdg, "tokenhost")
	}
	candidates := []located{{path: filepath.Join(dir, FileName), needsTrust: dir != userDir}}
	if userDir != "" {
		candidates = append(candidates, located{path: filepath.Join(userDir, FileName)})
	}
	for _, c := range candidates {
		err := checkFile(c.path)
		if fi, serr := os.Stat(c.path); err == nil && serr == nil && !fi.Mode().IsRegular() {
			// A named pipe would block the read; only a file named explicitly may be one (<(…) in a shell).
			err = errors.New("is not a regular file")
		}
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return located{}, fmt.Errorf("%s: %w", c.path, err)
		}
	}
	return located{}, nil
}

// xdgConfigHome returns $XDG_CONFIG_HOME, or $HOME/.config when it is unset or not absolute (as the XDG
// specification requires), or "" when neither is available.
func xdgConfigHome(env map[string]string) string {
	if x := env["XDG_CONFIG_HOME"]; x != "" && filepath.IsAbs(x) {
		return x
	}
	if h := env["HOME"]; h != "" {
		return filepath.Join(h, ".config")
	}
	return ""
}

// checkFile returns nil when p is a readable candidate: it exists and is not a directory.
func checkFile(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fs.ErrNotExist // "file does not exist"
		}
		return fsmsg.Cause(err)
	}
	if fi.IsDir() {
		return errors.New("is a directory, not a configuration file")
	}
	return nil
}

// workDir returns s.Dir, or the process's working directory.
func workDir(s Sources) (string, error) {
	if s.Dir != "" {
		return filepath.Abs(s.Dir)
	}
	d, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot determine the working directory: %w", err)
	}
	return d, nil
}

// absPath expands a leading ~ with $HOME (homedir.Expand) and makes p absolute relative to dir.
func absPath(p, dir string, env map[string]string) (string, error) {
	p, err := homedir.Expand(p, func() (string, error) {
		if env["HOME"] == "" {
			return "", errors.New("HOME is not set")
		}
		return env["HOME"], nil
	})
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p), nil
}

// environMap turns KEY=VALUE pairs into a map; a later pair wins, as in the process environment.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}
