package gateway

import (
	"testing"

	"github.com/tokenhost/tokenhost/plugins/internal/docstest"
)

func TestOptionsMatchTheProviderPage(t *testing.T) {
	docstest.Check(t, "../../docs/providers/gateway.md", knownOptions, func(o map[string]any) error {
		_, err := New().Configure(t.Context(), o)
		return err
	})
}

func TestMCPOptionsMatchTheProviderPage(t *testing.T) {
	docstest.Check(t, "../../docs/providers/mcp.md", mcpOptions, func(o map[string]any) error {
		_, err := NewMCP().Configure(t.Context(), o)
		return err
	})
}
