// Package credfile holds what the plugins that keep a sign-in in a JSON file another program also rewrites
// (codex's auth.json, gemini's oauth_creds.json) share: reading such a file safely (bounded, regular files
// only, again when it is caught half written), describing what is wrong with its contents without quoting
// them, the cross-process lock beside it, and replacing it atomically.
package credfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tokenhost/tokenhost/internal/atomicfile"
)

// MaxSize bounds how much of a credential file is read; real files are a few kilobytes.
const MaxSize = 1 << 20

// readPatience is how long a file that is empty or not valid JSON is read again before it is reported: the
// Gemini CLI (and older Codex CLIs) rewrite these files in place, so a reader can catch one half written,
// and on a loaded machine a writer can stay between its truncate and its write for tens of milliseconds.
const readPatience = time.Second

// readPauseFirst and readPauseMax bound the pause between those reads, which doubles from the first.
const readPauseFirst, readPauseMax = 10 * time.Millisecond, 160 * time.Millisecond

// Problem is what is wrong with the contents of a credential file, without its path; its text never quotes
// a value from the file.
type Problem struct {
	Reauth  bool   // only signing in again fixes it (as opposed to a damaged file)
	Partial bool   // empty or not JSON: possibly caught while another program rewrote it
	What    string // what is wrong, phrased to follow the file's path ("is empty")
}

// Error returns What.
func (p *Problem) Error() string { return p.What }

// Corrupt returns a *Problem for a damaged file.
func Corrupt(format string, args ...any) error {
	return &Problem{What: fmt.Sprintf(format, args...)}
}

// NotSignedIn returns a *Problem that only signing in again fixes.
func NotSignedIn(format string, args ...any) error {
	return &Problem{Reauth: true, What: fmt.Sprintf(format, args...)}
}

// ParseObject parses a JSON object, reporting problems as *Problem values that quote nothing from it; an
// empty document or a syntax error is Partial.
func ParseObject(data []byte) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Problem{Partial: true, What: "is empty"}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &Problem{Partial: true, What: fmt.Sprintf("is not valid JSON (syntax error at byte %d)", se.Offset)}
		}
		return nil, Corrupt("is not a JSON object")
	}
	if doc == nil {
		return nil, Corrupt("is not a JSON object")
	}
	return doc, nil
}

// IsNull reports whether raw is the JSON null.
func IsNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// OptString returns the string at key of m; absent and null are "", any other type is a *Problem that
// names the key and quotes nothing.
func OptString(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || IsNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", Corrupt("has a %s field that is not a string", key)
	}
	return s, nil
}

var (
	// ErrIsDir is ReadLimited's error for a directory where the file should be.
	ErrIsDir = errors.New("is a directory")
	// ErrNotRegular is ReadLimited's error for a FIFO, device or socket where the file should be.
	ErrNotRegular = errors.New("is not a regular file")
)

// ReadLimited reads the regular file at path: ErrIsDir or ErrNotRegular when it is something else (checked
// before opening, as opening a FIFO would block), a *Problem when it holds more than MaxSize bytes, else
// the error of the file system.
func ReadLimited(path string) ([]byte, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if err := checkRegular(st); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(st); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, Corrupt("is larger than %d bytes, far more than a credential file holds", MaxSize)
	}
	return data, nil
}

func checkRegular(st os.FileInfo) error {
	switch {
	case st.IsDir():
		return ErrIsDir
	case !st.Mode().IsRegular():
		return ErrNotRegular
	}
	return nil
}

// Read reads path with ReadLimited and parses it with parse, reading again (for up to readPatience, with
// growing pauses) while parse reports a Partial *Problem, as a file caught while another program rewrites it in place is.
// It returns ctx's error when ctx ends between attempts, else the last error of ReadLimited or parse.
func Read[T any](ctx context.Context, path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	deadline := time.Now().Add(readPatience)
	for pause := readPauseFirst; ; pause = min(2*pause, readPauseMax) {
		data, err := ReadLimited(path)
		if err != nil {
			return zero, err
		}
		v, err := parse(data)
		var p *Problem
		if err == nil || !errors.As(err, &p) || !p.Partial || time.Now().After(deadline) {
			return v, err // only a half-written file is worth another look
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, ctx.Err()
		case <-t.C:
		}
	}
}

// WriteAtomic replaces the file at path with data atomically, mode 0600 (see atomicfile.Write).
func WriteAtomic(path string, data []byte, beforeRename func(tmp string) error) error {
	return atomicfile.Write(path, data, beforeRename)
}
