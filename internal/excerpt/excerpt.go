// Package excerpt shortens text from outside (a program's output, a library's error) for quoting in a
// message, without cutting a UTF-8 character in two.
package excerpt

import "strings"

// FirstLine returns s up to its first line break ("\n" or "\r").
func FirstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// Clip returns s cut to at most n runes, with "…" after a cut; it cuts between characters, never inside
// one.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
