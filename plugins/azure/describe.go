package azure

import (
	"fmt"
	"os"
	"strings"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/internal/homedir"
	"github.com/tokenhost/tokenhost/sdk"
)

// mode describes the configuration for Info.Mode.
func (c *config) mode() string {
	switch c.kind {
	case CredentialAPIKey:
		return "api_key (resource key in the api-key header)"
	case CredentialDefault:
		return "default (Azure's DefaultAzureCredential chain: environment, workload identity, managed identity, az, azd)"
	case CredentialManagedIdentity:
		if c.clientID != "" {
			return "managed_identity (user-assigned, client " + c.clientID + ")"
		}
		return "managed_identity (system-assigned)"
	case CredentialAzureCLI:
		if c.tenantID != "" {
			return "azure_cli (az login, tenant " + c.tenantID + ")"
		}
		return "azure_cli (az login)"
	}
	m := fmt.Sprintf("%s (tenant %s, client %s", c.kind, c.tenantID, c.clientID)
	if c.customAuthority {
		m += ", authority " + strings.TrimSuffix(c.authority, "/")
	}
	return m + ")"
}

// info returns the provider defaults for Configure.
func (c *config) info() sdk.Info {
	info := sdk.Info{Name: Name, Version: Version, Upstream: c.upstream, Mode: c.mode()}
	if c.upstreamHost != "" {
		info.AllowedHosts = []string{c.upstreamHost}
	}
	if c.kind == CredentialAPIKey {
		info.Header, info.Scheme = APIKeyHeader, ""
	}
	info.IdentityFrom, info.NoTokenCache = c.identity()
	return info
}

// secrets returns every secret value the configuration holds, for redaction.
func (c *config) secrets() []string {
	return []string{c.secret, c.certPass, c.apiKey}
}

// expandHome expands a leading ~ in the path option key holds (homedir.Expand).
func expandHome(key, p string) (string, error) {
	p, err := homedir.Expand(p, os.UserHomeDir)
	if err != nil {
		return "", sdk.BadConfig(key, "%v", err)
	}
	return p, nil
}

// fileReason says briefly why a file could not be used.
func fileReason(err error, fi os.FileInfo) string {
	if err == nil && fi != nil && fi.IsDir() {
		return "it is a directory"
	}
	return fsmsg.Reason(err)
}
