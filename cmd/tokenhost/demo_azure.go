package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// Demo identities of the azure scenario; none of them is real.
const (
	demoAzureClient = "3b7c1d2e-9f40-4a51-8c62-7d8e9fa0b1c2"
	demoAzureSecret = "demo-azure-secret-not-real"
	demoAzureEnv    = "DEMO_AZURE_SECRET"
)

// azureScenario is Azure OpenAI behind Entra ID: a loopback HTTPS fake of Entra ID (trusted through a
// ca_file holding its test CA) issuing client-credential tokens that carry refresh_in, and a fake Azure
// OpenAI v1 API.
func azureScenario() *scenario {
	entra := fakes.NewEntra(fakes.EntraConfig{
		ClientID:     demoAzureClient,
		ClientSecret: demoAzureSecret,
		ExpiresIn:    demoTokenLife,
		RefreshIn:    demoTokenLife * 2 / 3,
	})
	up := fakes.NewAzureOpenAIUpstream(entra.Valid)
	dir, dirErr := os.MkdirTemp("", "tokenhost-demo-azure-")
	caFile := filepath.Join(dir, "entra-ca.pem")
	return &scenario{
		name: "azure", plugin: "azure", path: "/chat/completions", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: azure
    upstream: %s
    refresh_before: 1s
    options:
      credential: client_secret
      tenant_id: %s
      client_id: %s
      client_secret_env: %s
      authority_host: %s
      ca_file: %s
      instance_discovery: false
`, up.URL(), entra.TenantID(), demoAzureClient, demoAzureEnv, entra.AuthorityHost(), caFile),
		env:    []string{demoAzureEnv + "=" + demoAzureSecret},
		revoke: entra.RevokeAll, issued: entra.Issued,
		setup: func() error {
			if dirErr != nil {
				return fmt.Errorf("creating a directory for the Entra test CA: %w", dirErr)
			}
			_, err := entra.CAFile(dir)
			return err
		},
		close: func() {
			up.Close()
			entra.Close()
			if dirErr == nil {
				_ = os.RemoveAll(dir)
			}
		},
	}
}
