package azure

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/sdk"
)

// Credential kinds the credential option accepts.
const (
	CredentialDefault           = "default"
	CredentialClientSecret      = "client_secret"
	CredentialClientCertificate = "client_certificate"
	CredentialWorkloadIdentity  = "workload_identity"
	CredentialManagedIdentity   = "managed_identity"
	CredentialAzureCLI          = "azure_cli"
	CredentialAPIKey            = "api_key"
)

// DefaultScope is the Entra ID scope of Azure OpenAI (Azure AI services) tokens.
const DefaultScope = "https://cognitiveservices.azure.com/.default"

// DefaultTimeout bounds one token request when the timeout option is not set.
const DefaultTimeout = 30 * time.Second

// APIKeyHeader is the header Azure OpenAI reads a resource key from (sent with no scheme).
const APIKeyHeader = "api-key"

// publicAuthorityHost is the Entra ID authority of the Azure public cloud.
const publicAuthorityHost = "https://login.microsoftonline.com/"

// Environment variables azidentity reads that the plugin consults too.
const (
	envAuthorityHost      = "AZURE_AUTHORITY_HOST"
	envClientID           = "AZURE_CLIENT_ID"
	envTenantID           = "AZURE_TENANT_ID"
	envFederatedTokenFile = "AZURE_FEDERATED_TOKEN_FILE"
)

// credentials lists the values the credential option accepts.
var credentials = []string{
	CredentialDefault, CredentialClientSecret, CredentialClientCertificate, CredentialWorkloadIdentity,
	CredentialManagedIdentity, CredentialAzureCLI, CredentialAPIKey,
}

// knownOptions lists every option the plugin reads.
var knownOptions = []string{
	"credential", "tenant_id", "client_id", "client_secret", "certificate_file", "certificate_password",
	"federated_token_path", "scope", "authority_host", "ca_file", "instance_discovery", "resource", "endpoint",
	"api_key", "timeout",
}

// entraOptions are the options of every credential that talks to Entra ID over the plugin's own HTTP client.
var entraOptions = []string{"scope", "authority_host", "ca_file", "instance_discovery"}

// readBy lists, per option that not every credential reads, the credentials that read it.
var readBy = optcheck.ByMode(map[string][]string{
	CredentialDefault:           append([]string{"tenant_id"}, entraOptions...),
	CredentialClientSecret:      append([]string{"tenant_id", "client_id", "client_secret"}, entraOptions...),
	CredentialClientCertificate: append([]string{"tenant_id", "client_id", "certificate_file", "certificate_password"}, entraOptions...),
	CredentialWorkloadIdentity:  append([]string{"tenant_id", "client_id", "federated_token_path"}, entraOptions...),
	CredentialManagedIdentity:   {"client_id", "scope", "ca_file"},
	CredentialAzureCLI:          {"tenant_id", "scope"},
	CredentialAPIKey:            {"api_key"},
}, credentials)

// knownClouds maps the names authority_host accepts to the Microsoft clouds' authority hosts.
var knownClouds = map[string]string{
	"public":     cloud.AzurePublic.ActiveDirectoryAuthorityHost,
	"china":      cloud.AzureChina.ActiveDirectoryAuthorityHost,
	"government": cloud.AzureGovernment.ActiveDirectoryAuthorityHost,
}

// microsoftAuthorities are the Entra ID hosts of Microsoft's own clouds, which instance discovery knows.
var microsoftAuthorities = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
	"login.chinacloudapi.cn":           true,
	"login.partner.microsoftonline.cn": true,
	"login.microsoftonline.us":         true,
	"login-us.microsoftonline.com":     true,
	"login.usgovcloudapi.net":          true,
	"login.microsoftonline.de":         true,
	"login.sovcloud-identity.fr":       true,
	"login.sovcloud-identity.de":       true,
	"login.sovcloud-identity.sg":       true,
}

// tenantPattern is what azidentity accepts as a tenant: a GUID or a domain name.
//
// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var tenantPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9.-]+$`) })

// resourcePattern is an Azure OpenAI resource (custom subdomain) name.
//
// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var resourcePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?$`) })

// config is a validated options block.
type config struct {
	kind     string
	tenantID string
	clientID string
	secret   string // client_secret
	certFile string
	certPass string
	fedToken string // federated token file path
	scope    string
	apiKey   string

	authority         string // https URL ending in "/"
	customAuthority   bool   // not one of Microsoft's clouds
	instanceDiscovery bool
	caFile            string
	upstream          string // "" when neither resource nor endpoint is set
	upstreamHost      string
	timeout           time.Duration

	client *http.Client // every azidentity HTTP call goes through it
}

// parseConfig validates the options block. It reads ca_file and certificate_file (to report problems at
// start) but contacts no server.
func parseConfig(raw map[string]any, wrap func(http.RoundTripper) http.RoundTripper) (*config, error) {
	o := sdk.Options(raw)
	if _, ok := o["federated_token"]; ok {
		return nil, sdk.BadConfig("federated_token", "a federated token is re-read on every refresh because Kubernetes rotates it, so it cannot be given inline or as federated_token_file/_env (tokenhost reads those once at start); set federated_token_path to the token file instead")
	}
	if err := o.Unknown(knownOptions...); err != nil {
		return nil, err
	}
	c := &config{}
	var err error
	if c.kind, err = o.String("credential", CredentialDefault); err != nil {
		return nil, err
	}
	c.kind = strings.ToLower(strings.TrimSpace(c.kind))
	if !slices.Contains(credentials, c.kind) {
		return nil, sdk.BadConfig("credential", "unknown credential %q; one of: %s", c.kind, strings.Join(credentials, ", "))
	}
	if err := checkApplicable(o, c.kind); err != nil {
		return nil, err
	}

	str := func(key string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = o.String(key, "")
		return strings.TrimSpace(v)
	}
	c.tenantID, c.clientID = str("tenant_id"), str("client_id")
	c.certFile, c.fedToken, c.caFile = str("certificate_file"), str("federated_token_path"), str("ca_file")
	c.scope = str("scope")
	if err != nil {
		return nil, err
	}
	// Secrets are taken as given (only an empty value is refused).
	if c.secret, err = o.String("client_secret", ""); err != nil {
		return nil, err
	}
	if c.certPass, err = o.String("certificate_password", ""); err != nil {
		return nil, err
	}
	if c.apiKey, err = o.String("api_key", ""); err != nil {
		return nil, err
	}
	if c.scope == "" {
		c.scope = DefaultScope
	}
	if c.timeout, err = optcheck.PositiveDuration(o, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if err := c.parseUpstream(o); err != nil {
		return nil, err
	}
	if err := c.checkIdentity(); err != nil {
		return nil, err
	}
	if c.kind == CredentialAPIKey {
		return c, nil
	}
	if err := c.checkScope(); err != nil {
		return nil, err
	}
	if err := c.parseAuthority(o); err != nil {
		return nil, err
	}
	pool, err := loadCAFile(c.caFile)
	if err != nil {
		return nil, err
	}
	c.client = newHTTPClient(pool, wrap)
	return c, nil
}

// checkApplicable rejects options the chosen credential does not read, so a setting is never silently
// ignored (e.g. a client_secret with credential: default).
func checkApplicable(o sdk.Options, kind string) error {
	if k, users := readBy.Unused(o, knownOptions, kind); k != "" {
		hint := "remove it"
		if len(users) == 1 {
			hint = fmt.Sprintf("set credential: %s to use it, or remove it", users[0])
		} else if len(users) > 1 {
			hint = fmt.Sprintf("it is read with credential %s; remove it or change credential", strings.Join(users, ", "))
		}
		switch {
		case k == "authority_host" && kind == CredentialAzureCLI:
			hint = "the Azure CLI uses its own cloud setting (az cloud set --name …); remove it"
		case k == "ca_file" && kind == CredentialAzureCLI:
			hint = "the Azure CLI reads REQUESTS_CA_BUNDLE for a custom CA; remove it"
		case k == "tenant_id" && kind == CredentialManagedIdentity:
			hint = "a managed identity always gets tokens from its own tenant; remove it"
		case k == "client_id" && kind == CredentialDefault:
			hint = "DefaultAzureCredential reads AZURE_CLIENT_ID from the environment; set that, or choose a specific credential"
		}
		return sdk.BadConfig(k, "is not used with credential: %s; %s", kind, hint)
	}
	return nil
}
