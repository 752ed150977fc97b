package azure

import (
	"net/url"
	"os"
	"strings"

	"github.com/tokenhost/tokenhost/internal/excerpt"
	"github.com/tokenhost/tokenhost/internal/netaddr"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// checkIdentity checks the identity options of the chosen credential, filling workload identity's from the
// environment the way azidentity does.
func (c *config) checkIdentity() error {
	if c.tenantID != "" && !tenantPattern().MatchString(c.tenantID) {
		return sdk.BadConfig("tenant_id", "must be the directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com; got %q", excerpt.Clip(c.tenantID, 80))
	}
	need := func(key, what string) error {
		return sdk.BadConfig(key, "is required: %s", what)
	}
	switch c.kind {
	case CredentialClientSecret, CredentialClientCertificate:
		if c.tenantID == "" {
			return need("tenant_id", "the directory (tenant) ID of the app registration")
		}
		if c.clientID == "" {
			return need("client_id", "the app registration's Application (client) ID")
		}
		if c.kind == CredentialClientSecret && c.secret == "" {
			return need("client_secret", "give it as client_secret_env (an environment variable name) or client_secret_file rather than inline")
		}
		if c.kind == CredentialClientCertificate {
			if c.certFile == "" {
				return need("certificate_file", "a PEM or PKCS#12 file holding the certificate and its private key")
			}
			var err error
			if c.certFile, err = expandHome("certificate_file", c.certFile); err != nil {
				return err
			}
			if _, err := c.readCertificate(); err != nil {
				return err
			}
		}
	case CredentialWorkloadIdentity:
		fromEnv := func(v *string, key, env, what string) error {
			if *v == "" {
				*v = strings.TrimSpace(os.Getenv(env))
			}
			if *v == "" {
				return sdk.BadConfig(key, "is required for workload identity (%s); set it, or %s (the Azure workload identity webhook sets it in the pod)", what, env)
			}
			return nil
		}
		if err := fromEnv(&c.tenantID, "tenant_id", envTenantID, "the directory (tenant) ID"); err != nil {
			return err
		}
		if !tenantPattern().MatchString(c.tenantID) {
			return sdk.BadConfig("tenant_id", "%s must be the directory (tenant) ID, a GUID, or a domain; got %q", envTenantID, excerpt.Clip(c.tenantID, 80))
		}
		if err := fromEnv(&c.clientID, "client_id", envClientID, "the client ID of the app or user-assigned identity with the federated credential"); err != nil {
			return err
		}
		if err := fromEnv(&c.fedToken, "federated_token_path", envFederatedTokenFile, "the projected service account token file"); err != nil {
			return err
		}
		var err error
		if c.fedToken, err = expandHome("federated_token_path", c.fedToken); err != nil {
			return err
		}
		if fi, err := os.Stat(c.fedToken); err != nil || fi.IsDir() {
			return sdk.BadConfig("federated_token_path", "cannot read the federated token file %s: %s", c.fedToken, fileReason(err, fi))
		}
	case CredentialAPIKey:
		if c.apiKey == "" {
			return sdk.BadConfig("api_key", "is required: give it as api_key_env (an environment variable name) or api_key_file: a key from the resource's Keys and Endpoint page")
		}
		if tokenhttp.HasControl(c.apiKey) || strings.Contains(c.apiKey, " ") {
			return sdk.BadConfig("api_key", "holds spaces or control characters, which cannot be sent in a header (a trailing newline from a file is removed; check the value)")
		}
	}
	return nil
}

// checkScope validates the scope: one Entra ID scope ending in /.default, as client credentials and
// managed identities require.
func (c *config) checkScope() error {
	if tokenhttp.HasControl(c.scope) || strings.Contains(c.scope, " ") {
		return sdk.BadConfig("scope", "must be one scope with no spaces, e.g. %s", DefaultScope)
	}
	if !strings.HasSuffix(c.scope, "/.default") || len(c.scope) == len("/.default") {
		return sdk.BadConfig("scope", "must be a resource's .default scope such as %s (or https://ai.azure.com/.default), got %q", DefaultScope, excerpt.Clip(c.scope, 120))
	}
	return nil
}

// parseAuthority resolves the authority host (option, then AZURE_AUTHORITY_HOST, then the public cloud) and
// the instance discovery setting.
func (c *config) parseAuthority(o sdk.Options) error {
	key := "authority_host"
	raw, err := o.String("authority_host", "")
	if err != nil {
		return err
	}
	raw = strings.TrimSpace(raw)
	from := ""
	if raw == "" && c.kind != CredentialManagedIdentity && c.kind != CredentialAzureCLI {
		if env := strings.TrimSpace(os.Getenv(envAuthorityHost)); env != "" {
			raw, from = env, " (from "+envAuthorityHost+")"
		}
	}
	if raw == "" {
		raw = publicAuthorityHost
	}
	if host, ok := knownClouds[strings.ToLower(raw)]; ok {
		raw = host
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return sdk.BadConfig(key, "must be an https URL such as https://login.microsoftonline.com/ or one of public, china, government%s", from)
	case u.Scheme != "https":
		return sdk.BadConfig(key, "must be an https URL%s, got scheme %q: Entra ID and azidentity refuse to send credentials over anything else", from, u.Scheme)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return sdk.BadConfig(key, "must be a plain https URL with no credentials, query or fragment%s", from)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	c.authority = u.String()
	c.customAuthority = !microsoftAuthorities[strings.ToLower(u.Hostname())]
	if c.kind == CredentialManagedIdentity || c.kind == CredentialAzureCLI {
		return nil
	}
	c.instanceDiscovery, err = o.Bool("instance_discovery", !c.customAuthority)
	return err
}

// parseUpstream reads resource or endpoint.
func (c *config) parseUpstream(o sdk.Options) error {
	resource, err := o.String("resource", "")
	if err != nil {
		return err
	}
	endpoint, err := o.String("endpoint", "")
	if err != nil {
		return err
	}
	resource, endpoint = strings.TrimSpace(resource), strings.TrimSpace(endpoint)
	switch {
	case resource != "" && endpoint != "":
		return sdk.BadConfig("endpoint", "conflicts with resource; give resource (the Azure OpenAI resource name) or endpoint (a full base URL), not both")
	case resource != "":
		if !resourcePattern().MatchString(resource) {
			hint := ""
			if strings.Contains(resource, ".") || strings.Contains(resource, "/") {
				hint = "; to give a host or URL, use endpoint: https://<host>/openai/v1 instead"
			}
			return sdk.BadConfig("resource", "must be an Azure OpenAI resource name (letters, digits and hyphens, as in https://<resource>.openai.azure.com), got %q%s", excerpt.Clip(resource, 80), hint)
		}
		c.upstreamHost = strings.ToLower(resource) + ".openai.azure.com"
		c.upstream = "https://" + c.upstreamHost + "/openai/v1"
	case endpoint != "":
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return sdk.BadConfig("endpoint", "must be an absolute https URL such as https://myresource.openai.azure.com/openai/v1")
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return sdk.BadConfig("endpoint", "must be a base URL with no credentials, query or fragment (the v1 API needs no api-version)")
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && netaddr.IsLoopback(u.Hostname())) {
			return sdk.BadConfig("endpoint", "must be an https URL (plain http is accepted only for loopback hosts), got %s://%s", u.Scheme, u.Host)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		c.upstream, c.upstreamHost = u.String(), strings.ToLower(u.Host)
	}
	return nil
}
