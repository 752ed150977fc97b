// Package netaddr holds the host's rules about network addresses that the host and the built-in plugins
// share.
package netaddr

import (
	"net"
	"strings"
)

// IsLoopback reports whether host (a host name or IP address, without port or brackets) is localhost or a
// loopback IP address (127.0.0.0/8, ::1): the only hosts plain http is accepted for, by the host and by
// the built-in plugins alike.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
