package tests

import (
	"fmt"
	"strings"
	"testing"
)

// A plugin whose gRPC server predates the optional RPCs (it answers UNIMPLEMENTED to Login and Logout)
// still serves tokens to this host, and `tokenhost login` says it has no interactive sign-in instead of
// failing strangely: optional RPCs need no protocol bump (docs/writing-a-plugin.md, Compatibility).
func TestPluginWithoutOptionalRPCs(t *testing.T) {
	needBinaries(t)
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf(`
providers:
  old:
    plugin: %s
    upstream: https://llm.example.com/v1
`, bins.pluginv1))
	tok := tokenhost(t, cfg, nil, "token", "old")
	if tok.code != 0 || !strings.HasPrefix(strings.TrimSpace(tok.stdout), "v1-") {
		t.Fatalf("token from a protocol-1 plugin without the optional RPCs:\n%s", tok)
	}
	login := tokenhost(t, cfg, nil, "login", "old")
	if login.code == 0 || !strings.Contains(login.stderr, "no interactive sign-in") || !oneLine(login.stderr) {
		t.Fatalf("login against it:\n%s", login)
	}
}
