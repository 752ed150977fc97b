//go:build unix

package redistest

import (
	"syscall"
	"testing"
)

// Pause stops the server with SIGSTOP: it keeps its port and connections but answers nothing (a hung or
// overloaded Redis) until Resume. Cleanup resumes it before stopping it.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pausing redis-server: %v", err)
	}
	t.Cleanup(func() { s.Resume(t) })
}

// Resume lets a paused server go on (SIGCONT); resuming a running or stopped server does nothing.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}
