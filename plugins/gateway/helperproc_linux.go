package gateway

import "syscall"

// dieWithPlugin has the kernel kill the helper when the plugin process ends, since the host's kill of
// the plugin's process group no longer reaches a helper in a group of its own.
func dieWithPlugin(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
