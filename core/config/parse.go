package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// Parse parses the YAML configuration data read from source (a file path, or EmbeddedSource), applies the
// TOKENHOST_ environment overrides of s.Environ and validates the result. Relative paths in the file are
// taken relative to source's directory (s.Dir for the embedded default).
func Parse(data []byte, source string, s Sources) (*Config, error) {
	p := &problems{}
	vars, paths := envOverrides(s.Environ, p)
	p.env = paths

	k := koanf.New(".")
	if err := k.Load(bytesProvider(data), yaml.Parser()); err != nil {
		return nil, yamlError(source, err)
	}
	if err := k.Load(envProvider(vars), nil); err != nil {
		return nil, fmt.Errorf("environment overrides: %w", err)
	}

	d := &decoder{p: p, s: s, env: environMap(s.Environ), source: source, failed: map[string]bool{}}
	cfg := d.config(d.unmarshal(k))
	if err := p.err(); err != nil {
		return nil, err
	}
	cfg.Source = source
	return cfg, nil
}

// bytesProvider is a koanf.Provider over bytes already in memory.
type bytesProvider []byte

// ReadBytes returns the bytes.
func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

// Read is not supported: the bytes need a parser.
func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytes provider needs a parser")
}

// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^line (\d+): cannot unmarshal (!!\w+)`) })

// sourceError is an error whose message already names the configuration file (and line) it is about.
type sourceError struct {
	msg string
	err error
}

// Error returns the message, which starts with the source.
func (e *sourceError) Error() string { return e.msg }

// Unwrap returns the parser's error.
func (e *sourceError) Unwrap() error { return e.err }

// yamlError prefixes a YAML parser error with the source and keeps its line number, rewording the one
// error a user meets most (a document that is not a mapping).
func yamlError(source string, err error) error {
	var te *yamlv3.TypeError
	if errors.As(err, &te) {
		lines := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := yamlLine().FindStringSubmatch(e); m != nil && strings.Contains(e, "map[string]interface") {
				e = fmt.Sprintf("line %s: the configuration must be a mapping with the keys server and providers, got %s",
					m[1], yamlKind(m[2]))
			}
			lines = append(lines, source+": "+e)
		}
		return &sourceError{msg: strings.Join(lines, "\n"), err: err}
	}
	return &sourceError{msg: source + ": " + strings.TrimPrefix(err.Error(), "yaml: "), err: err}
}

// yamlKind names a YAML tag the way the rest of the messages name types.
func yamlKind(tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return tag
}

// decoder turns the raw configuration map into a Config, recording every problem with its key path.
type decoder struct {
	p      *problems
	s      Sources
	env    map[string]string
	source string
	// failed holds the key paths whose values did not decode.
	failed map[string]bool
	// secretVars are the environment variables named by *_env options (Config.SecretVars).
	secretVars []string
}

// baseDir is the directory relative paths in the configuration are relative to.
func (d *decoder) baseDir() (string, error) {
	if d.source != "" && d.source != EmbeddedSource {
		if filepath.IsAbs(d.source) {
			return filepath.Dir(d.source), nil
		}
		wd, err := workDir(d.s)
		if err != nil {
			return "", err
		}
		return filepath.Dir(filepath.Join(wd, d.source)), nil
	}
	return workDir(d.s)
}

// path resolves a path written in the configuration: a leading ~/ is $HOME, a relative path is relative to
// the configuration file's directory.
func (d *decoder) path(p string) (string, error) {
	dir, err := d.baseDir()
	if err != nil {
		return "", err
	}
	return absPath(p, dir, d.env)
}
