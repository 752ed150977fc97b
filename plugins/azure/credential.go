package azure

import (
	"crypto"
	"crypto/x509"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tokenhost/tokenhost/internal/excerpt"
	"github.com/tokenhost/tokenhost/sdk"
)

// Retry policy for requests to Entra ID's token endpoint: a blip is smoothed over, an outage is reported
// within about a second so the host's breaker can act on it. Managed identity keeps azidentity's own IMDS
// policy (IMDS asks clients to retry for longer).
const (
	entraRetries       = 2
	entraRetryDelay    = 250 * time.Millisecond
	entraMaxRetryDelay = 2 * time.Second
)

// telemetryID is the application ID azidentity adds to its User-Agent.
const telemetryID = "tokenhost"

// parsedCert is a certificate chain and its private key.
type parsedCert struct {
	certs []*x509.Certificate
	key   crypto.PrivateKey
}

// parseCertificate parses a PEM or PKCS#12 certificate file the way azidentity does.
func parseCertificate(data []byte, password, path string) (parsedCert, error) {
	certs, key, err := azidentity.ParseCertificates(data, []byte(password))
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "password") || strings.Contains(msg, "decryption") {
			if password == "" {
				return parsedCert{}, sdk.BadConfig("certificate_password", "%s is encrypted; set certificate_password (certificate_password_env or certificate_password_file)", path)
			}
			return parsedCert{}, sdk.BadConfig("certificate_password", "cannot decrypt %s with certificate_password; check the password", path)
		}
		return parsedCert{}, sdk.BadConfig("certificate_file", "%s is neither a PEM file with CERTIFICATE and PRIVATE KEY blocks nor a PKCS#12 file (%s); export the certificate with its private key",
			path, excerpt.Clip(sdk.RedactString(msg, password), 120))
	}
	return parsedCert{certs: certs, key: key}, nil
}

// newCredential builds a fresh azidentity credential, with a token cache of its own, for the configuration.
// Nothing is sent until its GetToken is called.
func (c *config) newCredential() (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: c.authority},
		Transport: c.client,
		Telemetry: policy.TelemetryOptions{ApplicationID: telemetryID},
	}
	entra := co
	entra.Retry = policy.RetryOptions{MaxRetries: entraRetries, RetryDelay: entraRetryDelay, MaxRetryDelay: entraMaxRetryDelay}
	noDiscovery := !c.instanceDiscovery

	var (
		cred azcore.TokenCredential
		err  error
	)
	switch c.kind {
	case CredentialDefault:
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: noDiscovery, TenantID: c.tenantID,
		})
	case CredentialClientSecret:
		cred, err = azidentity.NewClientSecretCredential(c.tenantID, c.clientID, c.secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: entra, DisableInstanceDiscovery: noDiscovery,
		})
	case CredentialClientCertificate:
		pc, perr := c.readCertificate()
		if perr != nil {
			return nil, perr
		}
		cred, err = azidentity.NewClientCertificateCredential(c.tenantID, c.clientID, pc.certs, pc.key, &azidentity.ClientCertificateCredentialOptions{
			ClientOptions: entra, DisableInstanceDiscovery: noDiscovery,
		})
	case CredentialWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: entra, DisableInstanceDiscovery: noDiscovery,
			ClientID: c.clientID, TenantID: c.tenantID, TokenFilePath: c.fedToken,
		})
	case CredentialManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if c.clientID != "" {
			o.ID = azidentity.ClientID(c.clientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	case CredentialAzureCLI:
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: c.tenantID})
	default:
		return nil, sdk.Internal("azure: no credential of kind %q", c.kind)
	}
	if err != nil {
		// Constructors fail only on configuration (a missing ID, an unreadable file); their messages hold
		// names and paths, never secrets, but are redacted all the same.
		return nil, sdk.BadConfig("credential", "azidentity could not set up the %s credential: %s", c.kind,
			excerpt.Clip(sdk.RedactString(excerpt.FirstLine(err.Error()), c.secrets()...), 200))
	}
	return cred, nil
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
