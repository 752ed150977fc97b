package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCheckWithAProviderSaysWhatToRun: `tokenhost check tools` explains that check covers every provider
// and names the command for one, instead of calling the provider an unknown command.
func TestCheckWithAProviderSaysWhatToRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "tools"}, &stdout, &stderr); code == 0 {
		t.Fatalf("check tools exited 0; want an error")
	}
	msg := stderr.String()
	for _, want := range []string{"every configured provider", "`tokenhost token tools`"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "unknown command") {
		t.Errorf("stderr %q calls the provider an unknown command", msg)
	}
}
