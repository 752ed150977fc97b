//go:build linux || darwin || freebsd

package main

import (
	"errors"
	"net"
)

// controlSupported says whether this platform has a control socket: Linux tells a peer by SO_PEERCRED,
// macOS and FreeBSD by LOCAL_PEERCRED (what getpeereid reads).
const controlSupported = true

// peerUID returns the uid of the process at the other end of c, a Unix socket connection.
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, errors.New("not a Unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid, gerr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) { uid, gerr = socketPeerUID(int(fd)) }); err != nil {
		return -1, err
	}
	return uid, gerr
}
