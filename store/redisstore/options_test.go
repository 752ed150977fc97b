package redisstore

import (
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

func TestUniversalOptionsPicksTheClient(t *testing.T) {
	cases := []struct {
		url     string
		master  string
		cluster bool
		addrs   int
		tls     bool
	}{
		{"redis://127.0.0.1:6379/2", "", false, 1, false},
		{"rediss://cache.internal:6380", "", false, 1, true},
		{"redis://s1:26379?master_name=tokens&addr=s2:26379", "tokens", false, 2, false},
		{"redis://n1:7000?cluster=true", "", true, 1, false},
		{"redis://n1:7000?addr=n2:7000&addr=n3:7000", "", true, 3, false},
	}
	for _, c := range cases {
		o, err := universalOptions(store.Config{URL: c.url, OpTimeout: 300 * time.Millisecond, DialTimeout: time.Second})
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if o.MasterName != c.master || o.IsClusterMode != c.cluster || len(o.Addrs) != c.addrs || (o.TLSConfig != nil) != c.tls {
			t.Errorf("%s: master %q cluster %v addrs %v tls %v", c.url, o.MasterName, o.IsClusterMode, o.Addrs, o.TLSConfig != nil)
		}
		if o.ReadTimeout != 300*time.Millisecond || o.WriteTimeout != 300*time.Millisecond || o.DialTimeout != time.Second {
			t.Errorf("%s: the configured timeouts were not applied", c.url)
		}
	}
}
