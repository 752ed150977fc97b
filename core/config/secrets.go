package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/internal/secretopt"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/optval"
)

// maxSecretFile bounds how much of a *_file secret is read.
const maxSecretFile = 1 << 20

// envVarName is what an environment variable name conventionally looks like; a *_env value that does not
// look like one is never echoed in a message, in case it is the secret itself.
//
// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var envVarName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`) })

// options copies a provider's options block into plain maps and lists and resolves its secret
// indirections: X_env and X_file, where sdk.IsSecretKey(X), become X with the variable's value or the
// file's contents, at any depth — except the ones secretopt.PluginReads names, which the plugin re-reads itself
// (a rotating subject token file must not be frozen at load time). It runs in the decode hook of a provider's options field (decodeProvider).
func (d *decoder) options(at string, m map[string]any) map[string]any {
	return d.optionMap(at, m)
}

// optionValue copies one options value, resolving secrets in the mappings it holds.
func (d *decoder) optionValue(at string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		return d.optionMap(at, t)
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = e
		}
		return d.optionMap(at, m)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = d.optionValue(index(at, i), e)
		}
		return out
	case time.Time:
		return t.Format(time.RFC3339Nano)
	}
	return v
}

// optionMap copies one mapping of the options block, resolving its secret indirections.
func (d *decoder) optionMap(at string, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	keys := sortedKeys(m)
	for _, k := range keys {
		if envOption(k) {
			d.noteEnvVars(m[k])
		}
		if _, kind := secretRef(k); kind == "" {
			out[k] = d.optionValue(keyPath(at, k), m[k])
		}
	}
	for _, k := range keys {
		base, kind := secretRef(k)
		if kind == "" {
			continue
		}
		path := keyPath(at, k)
		if _, dup := m[base]; dup {
			d.p.add(path, "conflicts with %s; give the secret one way only", base)
			continue
		}
		if kind == "file" {
			if _, dup := m[base+"_env"]; dup {
				d.p.add(path, "conflicts with %s_env; give the secret one way only", base)
				continue
			}
		}
		var (
			val string
			ok  bool
		)
		if kind == "env" {
			val, ok = d.secretFromEnv(path, m[k])
		} else {
			val, ok = d.secretFromFile(path, m[k])
		}
		if ok {
			out[base] = val
		}
	}
	return out
}

// secretRef splits an options key into the secret it names and "env" or "file", or returns kind "" when
// k is not a secret indirection (e.g. auth_file, whose base "auth" is not a secret key).
func secretRef(k string) (base, kind string) {
	lower := strings.ToLower(k)
	for _, suffix := range []string{"_env", "_file"} {
		if strings.HasSuffix(lower, suffix) {
			base = k[:len(k)-len(suffix)]
			if base != "" && sdk.IsSecretKey(base) && !secretopt.PluginReads(k) {
				return base, suffix[1:]
			}
			return "", ""
		}
	}
	return "", ""
}

// secretFromEnv returns the value of the environment variable named by v.
func (d *decoder) secretFromEnv(at string, v any) (string, bool) {
	name, ok := v.(string)
	if !ok || strings.TrimSpace(name) == "" {
		d.p.add(at, "must be the name of an environment variable, got %s", optval.TypeName(v))
		return "", false
	}
	val, set := d.env[name]
	if val != "" {
		return val, true
	}
	what, note := "environment variable "+name, ""
	if !envVarName().MatchString(name) {
		what = "the environment variable named here"
		note = "; its name is not shown because it does not look like a variable name (is the secret itself written here?)"
	}
	if set {
		note = " (it is empty)" + note
	}
	d.p.add(at, "%s is not set%s", what, note)
	return "", false
}

// secretFromFile returns the contents of the file named by v, without trailing line breaks. Only regular
// files are read, so a FIFO or device cannot block or flood the loader.
func (d *decoder) secretFromFile(at string, v any) (string, bool) {
	name, ok := v.(string)
	if !ok || strings.TrimSpace(name) == "" {
		d.p.add(at, "must be the path of a file holding the secret, got %s", optval.TypeName(v))
		return "", false
	}
	path, err := d.path(name)
	if err != nil {
		d.p.add(at, "%s: %v", quote(name), err)
		return "", false
	}
	data, err := readSecretFile(path)
	if err != nil {
		d.p.add(at, "cannot read %s: %v", path, err)
		return "", false
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		d.p.add(at, "file %s is empty", path)
		return "", false
	}
	return s, true
}

// readSecretFile reads a regular file of at most maxSecretFile bytes.
func readSecretFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fsmsg.Cause(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fsmsg.Cause(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fsmsg.Cause(err)
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("larger than %d bytes", maxSecretFile)
	}
	return data, nil
}
