package optval

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1024": 1024, "1024B": 1024, "1024b": 1024, "512KiB": 512 << 10, "16MiB": 16 << 20, "16mib": 16 << 20,
		"1GiB": 1 << 30, "100KB": 100_000, "10MB": 10_000_000, "2GB": 2_000_000_000, "1.5KiB": 1536, " 16 MiB ": 16 << 20,
		"8388607TiB": 1<<63 - 1 - (1<<40 - 1), // the largest whole TiB count that fits
	}
	for in, want := range good {
		if got, err := Size(in); err != nil || got != want {
			t.Errorf("Size(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5", "0.1KB0", "1e3", "16 megs", "0x10", "1/2KiB", "+5", "9223372036854775808",
		"9999999999GiB", "8388608TiB", "1.2.3", ".5KiB", strings.Repeat("9", 100)} {
		if got, err := Size(in); err == nil {
			t.Errorf("Size(%q) = %d, want an error", in, got)
		}
	}
}
