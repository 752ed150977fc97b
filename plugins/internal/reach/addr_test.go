package reach

import (
	"net/netip"
	"testing"
)

// TestIsPublic: loopback, private, link-local (the cloud metadata address), CGNAT, reserved ranges and
// IPv6 forms that embed such an IPv4 address are not public; ordinary internet addresses are.
func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "203.0.113.7": true, "2606:4700::1111": true, "::ffff:8.8.8.8": true, "64:ff9b::808:808": true, "2002:808:808::1": true,
		"127.0.0.1": false, "127.0.0.2": false, "::1": false, "10.0.0.5": false, "172.16.3.4": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00:ec2::254": false, "100.64.0.1": false, "0.0.0.0": false, "::": false,
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false, "240.0.0.1": false, "198.18.0.1": false, "192.0.0.8": false,
		"::ffff:10.0.0.5": false, "64:ff9b::a00:5": false, "2002:a00:5::1": false, "::10.0.0.5": false, "fec0::1": false,
	} {
		if got := IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}
