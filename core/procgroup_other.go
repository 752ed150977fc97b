//go:build !unix

package core

import "os/exec"

func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(int) {}
