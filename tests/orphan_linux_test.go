package tests

import (
	"syscall"
	"testing"
	"time"
)

// A host killed with SIGKILL cannot stop its plugins; they notice and exit on their own. The test process
// is a child subreaper (see procs_linux_test.go), so the orphaned plugin becomes its child and can be
// waited for directly.
func TestPluginsExitWhenHostIsKilled(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	s := startServe(t, cfg, env, "--eager") // --eager: the plugin runs before the proxy listens
	kids, err := strayProcesses(s.cmd.Process.Pid, "")
	if err != nil || len(kids) != 1 {
		t.Fatalf("serve --eager has children %v (%v), want its one plugin", kids, err)
	}
	plugin := kids[0].pid
	killed := time.Now()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s.done <- nil // for the cleanup's wait
	exited := make(chan error, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(plugin, &ws, 0, nil)
		exited <- err
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("waiting for the orphaned plugin: %v", err)
		}
		t.Logf("the orphaned plugin exited %s after its host's SIGKILL", time.Since(killed).Round(time.Millisecond))
	case <-time.After(hangGuard):
		t.Fatal("the plugin outlived its killed host")
	}
}
