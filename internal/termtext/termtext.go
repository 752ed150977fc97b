// Package termtext makes text that another program chose (a daemon's error, a plugin's prompt) safe to
// print on a terminal.
package termtext

import "strings"

// Clean returns s without the characters a terminal acts on instead of showing: ESC and every other C0
// or C1 control character except newline and tab, DEL, the bidirectional marks, embeddings, overrides and
// isolates, and the Unicode line and paragraph separators. Bytes that are not UTF-8 become U+FFFD, so a
// lone 0x9b (an 8-bit CSI) cannot reach the terminal either.
func Clean(s string) string { return clean(s, true) }

// Line is Clean for text that must stay on one line: newlines and tabs are removed too.
func Line(s string) string { return clean(s, false) }

// clean removes what Clean removes, and newline and tab unless keepLines.
func clean(s string, keepLines bool) string {
	if isPlain(s, keepLines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s { // an invalid byte arrives as utf8.RuneError and is written as U+FFFD
		if drop(r, keepLines) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isPlain reports whether s is printable ASCII (with newline and tab when keepLines), so nothing changes.
func isPlain(s string, keepLines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f || keepLines && (c == '\n' || c == '\t') {
			continue
		}
		return false
	}
	return true
}

// drop reports whether r is removed.
func drop(r rune, keepLines bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return !keepLines
	case r < 0x20, r >= 0x7f && r < 0xa0: // C0 (ESC, BEL, CR, BS, …), DEL and C1 (CSI, OSC, …)
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // Arabic letter mark, LTR and RTL marks
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // embeddings, overrides, isolates
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
