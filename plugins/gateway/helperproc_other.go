//go:build !unix

package gateway

import "os/exec"

// helperGroup leaves the helper as exec starts it: cancellation kills the helper process itself.
func helperGroup(*exec.Cmd) {}
