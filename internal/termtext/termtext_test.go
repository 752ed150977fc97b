package termtext

import "testing"

func TestClean(t *testing.T) {
	for _, c := range []struct{ in, clean, line string }{
		{"plain text", "plain text", "plain text"},
		{"boom \x1b]0;pwned\x07 done", "boom ]0;pwned done", "boom ]0;pwned done"},
		{"red \x1b[31mX\x1b[0m", "red [31mX[0m", "red [31mX[0m"},
		{"two\nlines\tok", "two\nlines\tok", "twolinesok"},
		{"over\rwrite\b\x7f", "overwrite", "overwrite"},
		{"c1 \u009b31m csi", "c1 31m csi", "c1 31m csi"},
		{"raw \x9b byte", "raw \ufffd byte", "raw \ufffd byte"},
		{"bidi \u202egnp.exe\u202c \u2066x\u2069 \u200f", "bidi gnp.exe x ", "bidi gnp.exe x "},
		{"sep\u2028arator", "separator", "separator"},
		{"unicode ünï 東京", "unicode ünï 東京", "unicode ünï 東京"},
	} {
		if got := Clean(c.in); got != c.clean {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.clean)
		}
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.line)
		}
	}
}
