// Package reach keeps what a server tells a client from leading the client to addresses more private than
// the server's own. Once the server has been reached at a public address, every connection made for a URL
// learned from it (or from a document it named) must go to a public address. The check runs on the
// address actually dialed, so a name that resolves, or resolves again later, to a private address cannot
// get around it. A server on a private address (an internal deployment, loopback) changes nothing.
//
// The MCP Go SDK has a similar rule, but this package does not reuse it: the SDK's rule lives in an
// internal package of its module, which Go does not let another module import; it lets loopback through,
// which a public server must not reach; and the SDK switches its check off whenever the caller's transport
// dials for itself, as the plugins' transports do.
package reach

import "net/netip"

// reserved are ranges that netip's predicates do not flag and that no public server answers from.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598), shared by an ISP's customers
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // network benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),          // IPv4-compatible IPv6, deprecated
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("64:ff9b:1::/48"), // NAT64 for local use
	netip.MustParsePrefix("fec0::/10"),      // site-local, deprecated
}

// Embedding IPv6 prefixes carry an IPv4 address whose class is theirs: NAT64's well-known prefix in the
// last 32 bits, 6to4 in bits 16 to 48.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// IsPublic reports whether ip is a public unicast address: not loopback, private (RFC 1918, ULA),
// link-local (which holds the cloud metadata address 169.254.169.254), multicast, unspecified, carrier-grade
// NAT or otherwise reserved, and not an IPv6 address that embeds such an IPv4 address.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return false
		}
	}
	b := ip.As16()
	switch {
	case ip.Is6() && nat64.Contains(ip):
		return IsPublic(netip.AddrFrom4([4]byte(b[12:16])))
	case ip.Is6() && sixTo4.Contains(ip):
		return IsPublic(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}
