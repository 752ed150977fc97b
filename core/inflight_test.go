package core

import (
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// The host's fetch timeout is never shorter than what the plugin states it needs (Info.MaxFetch).
func TestFetchTimeoutCoversThePluginsNeed(t *testing.T) {
	var s *settings
	c := &tokenCache{timeout: 30 * time.Second, settings: func() *settings { return s }}
	if got := c.fetchTimeout(); got != 30*time.Second {
		t.Fatalf("before the plugin started: %s, want the configured 30s", got)
	}
	s = &settings{info: sdk.Info{MaxFetch: 75 * time.Second}}
	if got := c.fetchTimeout(); got != 75*time.Second {
		t.Fatalf("plugin needs 75s: %s", got)
	}
	s = &settings{info: sdk.Info{MaxFetch: time.Second}}
	if got := c.fetchTimeout(); got != 30*time.Second {
		t.Fatalf("plugin needs 1s: %s, want the configured 30s", got)
	}
}
