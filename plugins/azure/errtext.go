// Errors that carry no answer from Entra ID: transport and TLS failures, azidentity's "credential
// unavailable" and the Azure CLI's messages.

package azure

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tokenhost/tokenhost/internal/excerpt"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// fromText classifies errors that carry no response: transport failures, TLS trust, authority problems, and
// the Azure CLI's messages.
func fromText(text string, cfg *config) error {
	lower := strings.ToLower(text)
	host := "Entra ID"
	if m := hostPattern().FindStringSubmatch(text); m != nil {
		host = m[1]
	}
	switch {
	case strings.Contains(lower, "x509:") || strings.Contains(lower, "tls: failed to verify"):
		return sdk.BadConfig("ca_file", "the TLS certificate of %s is not trusted (%s); if a TLS-inspecting proxy or a private cloud signs it, set ca_file to a PEM bundle with its CA", host, tlsReason(lower))
	case strings.Contains(lower, "invalid_instance"):
		return sdk.BadConfig("authority_host", "instance discovery at login.microsoftonline.com does not know the authority %s; for a private cloud or a test authority set instance_discovery: false", strings.TrimSuffix(cfg.authority, "/"))
	case strings.Contains(lower, "tenantdiscoveryresponse") || strings.Contains(lower, "openid configuration"):
		return sdk.BadConfig("authority_host", "the OpenID metadata at %s is not usable (its issuer or endpoints do not match the authority); check authority_host", strings.TrimSuffix(cfg.authority, "/"))
	case cfg.kind == CredentialAzureCLI && strings.Contains(lower, "az login"):
		return sdk.ReauthRequired("the Azure CLI is not signed in; run `az login` (and `az account set --subscription …` if needed); %s", roleHint)
	}
	if reason := netReason(lower); reason != "" && cfg.kind == CredentialManagedIdentity {
		return sdk.Unavailable("no managed identity endpoint answered at %s (%s); %s", host, reason, miHint)
	}
	if reason := netReason(lower); reason != "" {
		msg := fmt.Sprintf("%s could not be reached (%s): %s; check the network, the proxy (HTTPS_PROXY) and authority_host", cfg.issuer(), host, reason)
		if cfg.instanceDiscovery && cfg.customAuthority {
			msg += "; instance discovery is on and needs login.microsoftonline.com: for a private or test authority set instance_discovery: false"
		}
		return sdk.Unavailable("%s", msg)
	}
	return nil
}

// unavailableCredential explains a credential that could not even try (azidentity's "credential
// unavailable"): nothing in the environment it needs.
func unavailableCredential(text string, cfg *config) error {
	switch cfg.kind {
	case CredentialManagedIdentity:
		return sdk.BadConfig("credential", "no managed identity is available here: %s", miHint)
	case CredentialAzureCLI:
		if l := strings.ToLower(text); strings.Contains(l, "not found on path") || strings.Contains(l, "executable not found") {
			return sdk.BadConfig("credential", "the Azure CLI (az) is not installed or not on PATH; install it and run `az login`, or choose another credential")
		}
		return sdk.ReauthRequired("the Azure CLI cannot provide a token; run `az login` (install az first if needed)")
	case CredentialDefault:
		var tried []string
		for _, line := range strings.Split(text, "\n") {
			m := entryPattern().FindStringSubmatch(line)
			if m == nil || m[1] == "DefaultAzureCredential" || m[1] == "ChainedTokenCredential" {
				continue
			}
			tried = append(tried, m[1]+": "+chainReason(m[2]))
		}
		msg := "no credential in Azure's default chain is available here. Next: run `az login` (developer machine); or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) for a service principal; or run on Azure with a managed identity (set AZURE_CLIENT_ID for a user-assigned one); or pick one with credential: client_secret | client_certificate | workload_identity | managed_identity | azure_cli"
		if len(tried) > 0 {
			msg += ". Tried: " + strings.Join(tried, "; ")
		}
		return sdk.BadConfig("credential", "%s", excerpt.Clip(msg, 1500))
	}
	return sdk.BadConfig("credential", "the %s credential is not usable here: %s", cfg.kind, safeDetail(text, cfg))
}

// chainReason condenses one credential's reason in the default chain's error to something safe to show.
func chainReason(s string) string {
	l := strings.ToLower(s)
	switch {
	case strings.Contains(l, "missing environment variable"):
		if i := strings.Index(l, "missing environment variable"); i >= 0 {
			return excerpt.Clip(firstSentence(s[i:]), 80)
		}
	case strings.Contains(l, "not found on path"):
		return "not installed"
	case strings.Contains(l, "az login") || strings.Contains(l, "azd auth login") || strings.Contains(l, "connect-azaccount"):
		return "not signed in"
	case strings.Contains(l, "no token file") || strings.Contains(l, "no client id") || strings.Contains(l, "no tenant id"):
		return "not configured (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID)"
	case strings.Contains(l, "timed out") || strings.Contains(l, "no response") || strings.Contains(l, "imds") || strings.Contains(l, "connect"):
		return "no managed identity endpoint"
	}
	return "unavailable"
}

// isUnavailable reports whether err is azidentity's "credential unavailable" (it cannot try at all): such
// errors are non-retriable and are not an AuthenticationFailedError.
func isUnavailable(err error) bool {
	var nr interface{ NonRetriable() }
	return errors.As(err, &nr)
}

// netReason names a transport failure found in an error text, or returns "".
func netReason(lower string) string {
	for _, r := range []struct{ needle, reason string }{
		{"connection refused", "connection refused"},
		{"no such host", "no such host"},
		{"network is unreachable", "network is unreachable"},
		{"no route to host", "no route to host"},
		{"i/o timeout", "timed out"},
		{"tls handshake timeout", "TLS handshake timed out"},
		{"connection reset", "connection reset"},
		{"proxyconnect", "the proxy failed"},
		{"server response error", "no answer"},
		{"eof", "connection closed"},
	} {
		if strings.Contains(lower, r.needle) {
			return r.reason
		}
	}
	return ""
}

// tlsReason names a certificate verification failure.
func tlsReason(lower string) string {
	switch {
	case strings.Contains(lower, "unknown authority"):
		return "signed by an unknown authority"
	case strings.Contains(lower, "expired") || strings.Contains(lower, "not yet valid"):
		return "expired or not yet valid"
	case strings.Contains(lower, "valid for"):
		return "issued for another host name"
	}
	return "verification failed"
}

// safeDetail returns a short, redacted first line of an error text that holds no response body, or "" when
// the text might carry token material.
func safeDetail(text string, cfg *config) string {
	line := strings.TrimSpace(excerpt.FirstLine(text))
	l := strings.ToLower(text)
	for _, risky := range []string{"eyj", "bytes were", "access_token", "assertion", "{", "secret"} {
		if strings.Contains(l, risky) {
			return ""
		}
	}
	return tokenhttp.Clean(line, 160, cfg.secrets())
}

func firstSentence(s string) string {
	if i := strings.IndexAny(s, ".\n"); i >= 0 {
		return s[:i]
	}
	return s
}
