package proxy

import (
	"net/url"
	"strings"
)

// escapesBase reports whether rest, the escaped path after the provider segment, holds a dot segment
// ("..", raw or percent-encoded, also behind an encoded slash or backslash) that would climb above the
// upstream's base path once a server resolved it. Such a request is refused before anything is sent.
func escapesBase(rest string) bool {
	if !strings.ContainsAny(rest, ".%") {
		return false // no segment can be or decode to "..": the common case, checked without allocating
	}
	// The raw form split on "/", each segment decoded: catches "..", "%2e%2e", ".%2E".
	if climbs(strings.Split(rest, "/"), func(s string) string {
		if u, err := url.PathUnescape(s); err == nil {
			return u
		}
		return s
	}) {
		return true
	}
	// The fully decoded form split on "/" and "\": catches "..%2f..%2fadmin" for servers that decode
	// %2F (or treat "\" as a separator) before resolving dot segments.
	dec, err := url.PathUnescape(rest)
	if err != nil {
		return false // the caller refuses undecodable paths itself
	}
	return climbs(strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' }), func(s string) string { return s })
}

// climbs walks segs as a path resolver would and reports whether ".." ever leaves the starting directory.
func climbs(segs []string, decode func(string) string) bool {
	depth := 0
	for _, s := range segs {
		switch decode(s) {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}
