//go:build !linux && !darwin && !freebsd

package main

import (
	"net"
)

// controlSupported says whether this platform has a control socket: not where a Unix socket's peer
// cannot be told (Windows and the rest), so `tokenhost token` always fetches itself there.
const controlSupported = false

// peerUID cannot tell a peer on this platform.
func peerUID(net.Conn) (int, error) { return -1, errControlUnsupported }
