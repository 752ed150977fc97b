package bench

import (
	"os/exec"
	"testing"
)

// bench/proxy.sh parses (bash -n); CI does not run it: it installs packages and takes minutes.
func TestProxyScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	if out, err := exec.Command(bash, "-n", "proxy.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n bench/proxy.sh: %v\n%s", err, out)
	}
}

// bench/token.sh parses (bash -n); CI does not run it: it installs packages and times whole processes.
func TestTokenScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	if out, err := exec.Command(bash, "-n", "token.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n bench/token.sh: %v\n%s", err, out)
	}
}
