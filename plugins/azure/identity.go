package azure

import (
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/sdk"
)

// azureCLIFiles are the files in the Azure CLI's configuration directory that say who is signed in and
// where: the accounts and the default subscription, MSAL's token cache (plain on Linux and macOS,
// encrypted on Windows), service principal sign-ins, and the chosen cloud.
var azureCLIFiles = []string{
	"azureProfile.json", "msal_token_cache.json", "msal_token_cache.bin",
	"service_principal_entries.json", "service_principal_entries.bin", "config", "clouds.config",
}

// identity returns what, beside the options, decides whose token the configuration gets (sdk.Info's
// IdentityFrom): the variables azidentity reads, the certificate file, the federated token file, or the
// Azure CLI's sign-in files. opaque is true for the default chain: it ends in the Azure Developer CLI's
// and Azure PowerShell's sign-ins, which the host's token cache cannot watch for certain.
func (c *config) identity() (from []sdk.IdentitySource, opaque bool) {
	from = sdk.IdentityEnv(Environment...)
	switch c.kind {
	case CredentialDefault:
		return nil, true
	case CredentialClientCertificate:
		from = append(from, absFile(c.certFile))
	case CredentialWorkloadIdentity:
		path := c.fedToken
		if path == "" {
			path = os.Getenv(envFederatedTokenFile)
		}
		if path != "" {
			from = append(from, absFile(path))
		}
	case CredentialAzureCLI:
		dir := os.Getenv("AZURE_CONFIG_DIR")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, true
			}
			dir = filepath.Join(home, ".azure")
			from = append(from, sdk.IdentityEnv("HOME", "USERPROFILE")...)
		}
		for _, f := range azureCLIFiles {
			from = append(from, absFile(filepath.Join(dir, f)))
		}
	}
	return from, false
}

// absFile names path, made absolute against the plugin's working directory (the host's).
func absFile(path string) sdk.IdentitySource {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return sdk.IdentityFile(path)
}
