package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// maxIdentitySources bounds what one cached token may depend on; a plugin that names more gets no cache
// entry (each `tokenhost token` call would read every one of them).
const maxIdentitySources = 64

// maxHashedFile is the largest file whose content is hashed; a larger one, or one that is not a regular
// file, counts by its size, mode and modification time.
const maxHashedFile = 4 << 20

// identityRef is one thing a cached token's identity depends on: a file or environment variables (a
// name ending in "*" is a prefix), as the cache file records it.
type identityRef struct {
	File string `json:"file,omitempty"`
	Env  string `json:"env,omitempty"`
}

// identityRefs returns what decides whose token pc's plugin returns, beside the configuration: what the
// plugin named in its Info and the variables the provider's env: list passes it, files made absolute. ok
// is false when the plugin named something unusable (both fields, neither, or too many).
func identityRefs(info sdk.Info, pc *config.Provider) (refs []identityRef, ok bool) {
	for _, src := range info.IdentityFrom {
		switch {
		case (src.File == "") == (src.Env == ""):
			return nil, false
		case src.File != "":
			abs, err := filepath.Abs(src.File)
			if err != nil {
				return nil, false
			}
			refs = append(refs, identityRef{File: abs})
		default:
			refs = append(refs, identityRef{Env: src.Env})
		}
	}
	for _, name := range pc.Env {
		refs = append(refs, identityRef{Env: name})
	}
	return refs, len(refs) <= maxIdentitySources
}

// identitySum is a hash, keyed by salt, of the current state of refs: each file's content (or size, mode
// and modification time, or its absence) and the values of the variables of environ each env ref names
// (or their absence). It holds no value itself, and the salt keeps one secret in two cache entries from
// hashing alike.
func identitySum(refs []identityRef, salt []byte, environ []string) string {
	h := hmac.New(sha256.New, salt)
	for _, r := range refs {
		if r.File != "" {
			fmt.Fprintf(h, "file\x00%s\x00", r.File)
			fileState(h, r.File)
		} else {
			fmt.Fprintf(h, "env\x00%s\x00", r.Env)
			for _, kv := range envMatches(r.Env, environ) {
				fmt.Fprintf(h, "%d:%s\x00", len(kv), kv)
			}
		}
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileState writes what identifies path's current state to h.
func fileState(h hash.Hash, path string) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			h.Write([]byte("absent"))
		} else {
			h.Write([]byte("unreadable"))
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		h.Write([]byte("unreadable"))
		return
	}
	if st.Mode().IsRegular() && st.Size() <= maxHashedFile {
		sum := sha256.New()
		if n, err := io.Copy(sum, io.LimitReader(f, maxHashedFile+1)); err == nil && n <= maxHashedFile {
			fmt.Fprintf(h, "content:%x", sum.Sum(nil))
			return
		}
	}
	fmt.Fprintf(h, "stat:%d:%o:%d", st.Size(), st.Mode(), st.ModTime().UnixNano())
}

// envMatches returns the NAME=value entries of environ that pattern names, sorted: the variable itself, or
// every variable with its prefix when pattern ends in "*". Names compare without regard to case, as the
// host's allow lists do; an unset variable yields nothing, so it differs from an empty one.
func envMatches(pattern string, environ []string) []string {
	prefix, isPrefix := strings.CutSuffix(strings.ToUpper(pattern), "*")
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		up := strings.ToUpper(name)
		if (isPrefix && strings.HasPrefix(up, prefix)) || (!isPrefix && up == prefix) {
			out = append(out, kv)
		}
	}
	slices.Sort(out)
	return out
}
