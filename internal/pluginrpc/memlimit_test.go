package pluginrpc

import (
	"os"
	"runtime/debug"
	"testing"
)

// A plugin process runs with a 32 MiB soft memory limit, unless its environment sets GOMEMLIMIT.
func TestPluginMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	t.Setenv("GOMEMLIMIT", "") // restored after the test
	os.Unsetenv("GOMEMLIMIT")
	debug.SetMemoryLimit(1 << 40)
	limitMemory()
	if got := debug.SetMemoryLimit(-1); got != 32<<20 {
		t.Fatalf("memory limit without GOMEMLIMIT = %d, want %d", got, 32<<20)
	}
	t.Setenv("GOMEMLIMIT", "100MiB")
	debug.SetMemoryLimit(100 << 20) // what the runtime read from it at start
	limitMemory()
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Fatalf("memory limit with GOMEMLIMIT=100MiB = %d, want it kept", got)
	}
}
