package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1024": 1024, "1024B": 1024, "1024b": 1024, "512KiB": 512 << 10, "16MiB": 16 << 20, "16mib": 16 << 20,
		"1GiB": 1 << 30, "100KB": 100_000, "10MB": 10_000_000, "2GB": 2_000_000_000, "1.5KiB": 1536, " 16 MiB ": 16 << 20,
		"8388607TiB": 1<<63 - 1 - (1<<40 - 1), // the largest whole TiB count that fits
	}
	for in, want := range good {
		if got, ok := parseSize(in); !ok || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5", "0.1KB0", "1e3", "16 megs", "0x10", "1/2KiB", "+5", "9223372036854775808",
		"9999999999GiB", "8388608TiB", "1.2.3", ".5KiB", strings.Repeat("9", 100)} {
		if got, ok := parseSize(in); ok {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestSizeValues(t *testing.T) {
	cases := map[string]int64{"1024": 1024, "2048.0": 2048, "'4KiB'": 4096, "10MB": 10_000_000}
	for in, want := range cases {
		cfg := mustParse(t, "providers:\n  p:\n    plugin: gateway\n    max_replay_bytes: "+in+"\n")
		if got := cfg.Providers[0].MaxReplayBytes; got != want {
			t.Errorf("max_replay_bytes: %s = %d, want %d", in, got, want)
		}
	}
}

func TestDurationValues(t *testing.T) {
	good := map[string]time.Duration{
		"30s": 30 * time.Second, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute, "45": 45 * time.Second,
		"0.5": 500 * time.Millisecond, "'120'": 2 * time.Minute, "0": 0, "'250ms'": 250 * time.Millisecond,
	}
	for in, want := range good {
		cfg := mustParse(t, "providers:\n  p:\n    plugin: gateway\n    refresh_before: "+in+"\n")
		if got := cfg.Providers[0].RefreshBefore; got != want {
			t.Errorf("refresh_before: %s = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"5 minutes", "true", "[1]", "1e300", ".nan", "-5s", "'-3'", "1d"} {
		_, err := parseYAML(t, "providers:\n  p:\n    plugin: gateway\n    refresh_before: "+in+"\n")
		if err == nil || !strings.HasPrefix(err.Error(), "providers.p.refresh_before: ") {
			t.Errorf("refresh_before: %s: want an error naming the key, got %v", in, err)
		}
	}
}

func TestValidateListen(t *testing.T) {
	if err := ValidateListen("127.0.0.1:8787", nil); err != nil {
		t.Error(err)
	}
	if err := ValidateListen("10.0.0.1:8787", []string{"k"}); err != nil {
		t.Error(err)
	}
	err := ValidateListen("0.0.0.0:8787", nil)
	if err == nil || err.Error() != "server.listen: 0.0.0.0:8787 is not a loopback address; set server.api_keys to expose the proxy" {
		t.Errorf("got %v", err)
	}
}
