//go:build unix && !linux

package gateway

import "syscall"

// dieWithPlugin does nothing where the kernel offers no parent-death signal.
func dieWithPlugin(*syscall.SysProcAttr) {}
