package azure

import (
	"testing"

	"github.com/tokenhost/tokenhost/plugins/internal/docstest"
)

func TestOptionsMatchTheProviderPage(t *testing.T) {
	docstest.Check(t, "../../docs/providers/azure.md", knownOptions, func(o map[string]any) error {
		_, err := New().Configure(t.Context(), o)
		return err
	})
}
