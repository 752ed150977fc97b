package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/internal/atomicfile"
	"github.com/tokenhost/tokenhost/internal/fsmsg"
)

// trustStoreName is the file under $XDG_STATE_HOME/tokenhost/ that lists the trusted configuration files.
const trustStoreName = "trusted-configs.json"

// trustWhat names the trust store in the errors of the ownership and mode checks.
const trustWhat = "the list of trusted configurations"

// ErrNotTrusted is what Load's error wraps (errors.Is) when it refused a working-directory file whose
// content is not trusted.
var ErrNotTrusted = errors.New("configuration file not trusted")

// untrustedError is Load's error for a file that needs trust and lacks it: the message names the file
// and the command that trusts it.
type untrustedError struct{ msg string }

// Error returns the message.
func (e *untrustedError) Error() string { return e.msg }

// Is reports whether target is ErrNotTrusted.
func (e *untrustedError) Is(target error) bool { return target == ErrNotTrusted }

// TrustStore returns the file that records the trusted configuration files and their SHA-256:
// $XDG_STATE_HOME/tokenhost/trusted-configs.json, XDG_STATE_HOME defaulting to $HOME/.local/state when it is
// unset or not absolute.
func TrustStore(s Sources) (string, error) {
	env := environMap(s.Environ)
	base := env["XDG_STATE_HOME"]
	if base == "" || !filepath.IsAbs(base) {
		if env["HOME"] == "" {
			return "", errors.New("neither XDG_STATE_HOME nor HOME is set, so there is no place for the list of trusted configurations")
		}
		base = filepath.Join(env["HOME"], ".local", "state")
	}
	return filepath.Join(base, "tokenhost", trustStoreName), nil
}

// trustDoc is the trust store's content: Files maps an absolute path to the hex SHA-256 of the content
// trusted for it; other keys are kept as they are.
type trustDoc struct {
	raw   map[string]json.RawMessage
	files map[string]string
}

// readTrust reads the trust store at store (refusing one that another user could change); a missing
// store is empty.
func readTrust(store string) (*trustDoc, error) {
	doc := &trustDoc{raw: map[string]json.RawMessage{}, files: map[string]string{}}
	data, err := readPrivate(store, trustWhat)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return doc, nil
	}
	if err := json.Unmarshal(data, &doc.raw); err != nil {
		return nil, fmt.Errorf("%s: %s is not valid JSON (%v); remove it and trust your configuration files again", store, trustWhat, err)
	}
	if f, ok := doc.raw["files"]; ok {
		if err := json.Unmarshal(f, &doc.files); err != nil {
			return nil, fmt.Errorf("%s: its files entry is not a map of path to SHA-256 (%v); remove the file and trust your configuration files again", store, err)
		}
	}
	return doc, nil
}

// write replaces the trust store atomically with doc (mode 0600, its directory 0700).
func (doc *trustDoc) write(store string) error {
	dir := filepath.Dir(store)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, fsmsg.Cause(err))
	}
	if err := checkPrivateDir(dir, trustWhat); err != nil {
		return err
	}
	files, err := json.Marshal(doc.files)
	if err != nil {
		return err
	}
	doc.raw["files"] = files
	data, err := json.MarshalIndent(doc.raw, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(store, append(data, '\n'), nil); err != nil {
		return fmt.Errorf("%s: cannot write %s: %w", store, trustWhat, fsmsg.Cause(err))
	}
	return nil
}

// Trust reads the configuration file named by file (relative to s.Dir; "" = ./tokenhost.yaml) once and
// records its absolute path with the SHA-256 of the bytes read, so that Load uses it from the working
// directory for as long as its content stays the same. A file another user could change is refused. It
// returns the absolute path and the hex SHA-256.
func Trust(s Sources, file string) (path, sum string, err error) {
	path, store, doc, err := openTrust(s, file)
	if err != nil {
		return "", "", err
	}
	data, err := readPrivate(path, configWhat)
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(data)
	sum = hex.EncodeToString(h[:])
	doc.files[path] = sum
	return path, sum, doc.write(store)
}

// Untrust removes the file named by file (relative to s.Dir; "" = ./tokenhost.yaml) from the trusted
// files; it returns the absolute path and whether it was trusted. The file itself need not exist.
func Untrust(s Sources, file string) (path string, removed bool, err error) {
	path, store, doc, err := openTrust(s, file)
	if err != nil {
		return "", false, err
	}
	if _, ok := doc.files[path]; !ok {
		return path, false, nil
	}
	delete(doc.files, path)
	return path, true, doc.write(store)
}

// openTrust resolves file as Trust and Untrust take it and reads the trust store.
func openTrust(s Sources, file string) (path, store string, doc *trustDoc, err error) {
	if file == "" {
		file = FileName
	}
	dir, err := workDir(s)
	if err != nil {
		return "", "", nil, err
	}
	if path, err = absPath(file, dir, environMap(s.Environ)); err != nil {
		return "", "", nil, fmt.Errorf("%s: %w", file, err)
	}
	if store, err = TrustStore(s); err != nil {
		return "", "", nil, err
	}
	doc, err = readTrust(store)
	return path, store, doc, err
}

// IsTrusted reports whether data is the content trusted for the configuration file at path (absolute).
func IsTrusted(s Sources, path string, data []byte) bool {
	return checkTrusted(s, path, data) == nil
}

// checkTrusted returns nil when data is the content the user trusted for path, else an error naming the
// file and the command that trusts it.
func checkTrusted(s Sources, path string, data []byte) error {
	store, err := TrustStore(s)
	if err != nil {
		return &untrustedError{msg: fmt.Sprintf("%s is in the working directory and needs trust, but %v; choose a configuration with --config FILE", path, err)}
	}
	doc, err := readTrust(store)
	if err != nil {
		return err
	}
	h := sha256.Sum256(data)
	want, ok := doc.files[path]
	if ok && want == hex.EncodeToString(h[:]) {
		return nil
	}
	what := "is not trusted"
	if ok {
		what = "changed since it was trusted"
	}
	return &untrustedError{msg: fmt.Sprintf("%s %s: a tokenhost.yaml in the working directory may have been written by someone else "+
		"(a cloned repository), and a configuration can run commands and receive your tokens. Read it, then run "+
		"`tokenhost config trust %s` to use it from this directory, or choose a configuration with --config FILE or TOKENHOST_CONFIG",
		path, what, path)}
}
