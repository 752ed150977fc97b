package azure

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/tokenhost/tokenhost/plugins/internal/optcheck"
	"github.com/tokenhost/tokenhost/plugins/internal/pathmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
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
var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// resourcePattern is an Azure OpenAI resource (custom subdomain) name.
var resourcePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?$`)

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

// checkIdentity checks the identity options of the chosen credential, filling workload identity's from the
// environment the way azidentity does.
func (c *config) checkIdentity() error {
	if c.tenantID != "" && !tenantPattern.MatchString(c.tenantID) {
		return sdk.BadConfig("tenant_id", "must be the directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com; got %q", clip(c.tenantID, 80))
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
			c.certFile = expandHome(c.certFile)
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
		if !tenantPattern.MatchString(c.tenantID) {
			return sdk.BadConfig("tenant_id", "%s must be the directory (tenant) ID, a GUID, or a domain; got %q", envTenantID, clip(c.tenantID, 80))
		}
		if err := fromEnv(&c.clientID, "client_id", envClientID, "the client ID of the app or user-assigned identity with the federated credential"); err != nil {
			return err
		}
		if err := fromEnv(&c.fedToken, "federated_token_path", envFederatedTokenFile, "the projected service account token file"); err != nil {
			return err
		}
		c.fedToken = expandHome(c.fedToken)
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
		return sdk.BadConfig("scope", "must be a resource's .default scope such as %s (or https://ai.azure.com/.default), got %q", DefaultScope, clip(c.scope, 120))
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
		if !resourcePattern.MatchString(resource) {
			hint := ""
			if strings.Contains(resource, ".") || strings.Contains(resource, "/") {
				hint = "; to give a host or URL, use endpoint: https://<host>/openai/v1 instead"
			}
			return sdk.BadConfig("resource", "must be an Azure OpenAI resource name (letters, digits and hyphens, as in https://<resource>.openai.azure.com), got %q%s", clip(resource, 80), hint)
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
		if u.Scheme != "https" && !(u.Scheme == "http" && tokenhttp.IsLoopback(u.Hostname())) {
			return sdk.BadConfig("endpoint", "must be an https URL (plain http is accepted only for loopback hosts), got %s://%s", u.Scheme, u.Host)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		c.upstream, c.upstreamHost = u.String(), strings.ToLower(u.Host)
	}
	return nil
}

// readCertificate reads and parses certificate_file; it is called at Configure and for every new credential,
// so a rotated certificate is picked up on the next refresh.
func (c *config) readCertificate() (parsedCert, error) {
	data, err := os.ReadFile(c.certFile)
	if err != nil {
		return parsedCert{}, sdk.BadConfig("certificate_file", "cannot read %s: %s", c.certFile, fileReason(err, nil))
	}
	return parseCertificate(data, c.certPass, c.certFile)
}

// loadCAFile returns the system roots plus the PEM certificates in path, or nil when path is empty.
func loadCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	path = expandHome(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, sdk.BadConfig("ca_file", "cannot read %s: %s", path, fileReason(err, nil))
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, sdk.BadConfig("ca_file", "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA bundle of your TLS-inspecting proxy or private cloud in PEM form", path)
	}
	return pool, nil
}

// newHTTPClient returns the client azidentity sends every request through: a fresh transport with proxy
// settings from the environment, the extra roots of ca_file, and no redirects, so a token request's body
// (which holds the secret or assertion) never follows one.
func newHTTPClient(pool *x509.CertPool, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	var tr *http.Transport
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = t.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(rt)
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

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
	return info
}

// secrets returns every secret value the configuration holds, for redaction.
func (c *config) secrets() []string {
	return []string{c.secret, c.certPass, c.apiKey}
}

// expandHome replaces a leading ~/ with the home directory.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// fileReason says briefly why a file could not be used.
func fileReason(err error, fi os.FileInfo) string {
	if err == nil && fi != nil && fi.IsDir() {
		return "it is a directory"
	}
	return pathmsg.Reason(err)
}

// clip shortens s to at most n runes for quoting.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
