//go:build unix

package main

import (
	"os"
	"syscall"
)

// forwarded are the signals `tokenhost run` passes on to its command instead of acting on them.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}
