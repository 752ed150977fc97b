package config

import (
	"strings"
	"testing"
	"time"
)

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
	if err := ValidateListen("127.0.0.1:8787", Server{}); err != nil {
		t.Error(err)
	}
	if err := ValidateListen("10.0.0.1:8787", Server{APIKeys: []string{"k"}, TLS: ServerTLS{CertFile: "c.pem", KeyFile: "k.pem"}}); err != nil {
		t.Error(err)
	}
	err := ValidateListen("0.0.0.0:8787", Server{})
	if err == nil || err.Error() != "server.listen: 0.0.0.0:8787 is not a loopback address; set server.api_keys to expose the proxy" {
		t.Errorf("got %v", err)
	}
}
