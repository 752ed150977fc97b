package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// miHint is the next step when no managed identity endpoint answers.
const miHint = "a managed identity is available only on an Azure resource that has one (VM, App Service, Functions, Container Apps, AKS); elsewhere choose another credential"

// roleHint names the Azure role an identity needs to call Azure OpenAI.
const roleHint = "the identity also needs the Cognitive Services OpenAI User role on the Azure OpenAI resource"

// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var (
	aadstsPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(\d{4,8})`) })
	uuidPattern   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	})
	hostPattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`https?://([A-Za-z0-9.\-\[\]:]+)`) })
	entryPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*([A-Za-z]+Credential): ?(.*)$`) })
)

// entraError is the part of an Entra ID (or managed identity endpoint) error body the plugin reads. Only
// these fields are ever used; the body itself is never quoted.
type entraError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	CorrelationID string `json:"correlation_id"`
}

// classify turns a failed GetToken into an sdk error that says what failed and what to do next. It never
// quotes a response body, a secret, an assertion or a token: messages are built from the AADSTS code, the
// HTTP status and the plugin's own words.
func classify(err error, cfg *config, timedOut bool) error {
	if timedOut || errors.Is(err, context.DeadlineExceeded) {
		msg := fmt.Sprintf("%s did not answer within %s; it may be unreachable or overloaded (raise timeout if it is just slow)", cfg.issuer(), cfg.timeout)
		if cfg.kind == CredentialManagedIdentity {
			msg += "; " + miHint
		}
		return sdk.Unavailable("%s", msg)
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		return fromResponse(afe.RawResponse, cfg)
	}
	text := err.Error()
	if code := aadstsCode(text); code != 0 {
		if e := fromCode(code, "", cfg); e != nil {
			return e
		}
	}
	if afe == nil && isUnavailable(err) {
		return unavailableCredential(text, cfg)
	}
	if e := fromText(text, cfg); e != nil {
		return e
	}
	detail := safeDetail(text, cfg)
	if detail != "" {
		detail = ": " + detail
	}
	return sdk.Internal("%s credential failed to get a token from %s%s", cfg.kind, cfg.issuer(), detail)
}

// fromResponse classifies an error answer of Entra ID or a managed identity endpoint.
func fromResponse(resp *http.Response, cfg *config) error {
	status := resp.StatusCode
	var body entraError
	if data, err := runtime.Payload(resp); err == nil {
		_ = json.Unmarshal(data, &body)
	}
	code := 0
	if len(body.Codes) > 0 {
		code = body.Codes[0]
	} else if c := aadstsCode(body.Description); c != 0 {
		code = c
	}
	corr := ""
	if uuidPattern().MatchString(body.CorrelationID) {
		corr = body.CorrelationID
	}
	if code != 0 {
		if e := fromCode(code, corr, cfg); e != nil {
			return e
		}
	}
	what := fmt.Sprintf("%s answered %d", cfg.issuer(), status)
	if oauth := tokenkit.SafeCode(body.Error); oauth != "" {
		what += " " + oauth
	}
	if code != 0 {
		what += fmt.Sprintf(" (AADSTS%d)", code)
	}
	what += correlation(corr)
	kind := tokenkit.Classify(status, body.Error)
	switch {
	case kind == sdk.KindUnavailable:
		return sdk.Unavailable("%s; try again later", what)
	case cfg.kind == CredentialManagedIdentity:
		if status == http.StatusBadRequest || status == http.StatusNotFound {
			next := "check that this resource has a system-assigned identity enabled"
			if cfg.clientID != "" {
				next = fmt.Sprintf("check that the user-assigned identity with client ID %s is assigned to this resource (client_id)", cfg.clientID)
			}
			return sdk.BadConfig("client_id", "%s: the managed identity endpoint found no such identity; %s", what, next)
		}
		return sdk.Unavailable("%s; the managed identity endpoint refused the request (is IDENTITY_HEADER current?)", what)
	case body.Error == "invalid_client" || status == http.StatusUnauthorized:
		key, next := credentialKey(cfg)
		return sdk.BadConfig(key, "%s: Entra ID rejected the client's credentials; %s", what, next)
	case body.Error == "invalid_scope":
		return sdk.BadConfig("scope", "%s: Entra ID rejected scope %s; use the resource's .default scope, e.g. %s", what, cfg.scope, DefaultScope)
	case body.Error == "unauthorized_client":
		return sdk.BadConfig("client_id", "%s: check client_id %s and that the app is registered in tenant %s", what, cfg.clientID, cfg.tenantID)
	case body.Error == "invalid_tenant": // Entra ID's own code
		return sdk.BadConfig("tenant_id", "%s: check tenant_id %s and that authority_host is the cloud the tenant lives in", what, cfg.tenantID)
	case kind == sdk.KindReauthRequired:
		return sdk.ReauthRequired("%s: Entra ID no longer accepts the grant; %s", what, reauthNext(cfg))
	case kind == sdk.KindInternal:
		return sdk.Internal("%s: Entra ID refused the token request; check tenant_id, client_id, the credential and scope", what)
	}
	return sdk.BadConfig("", "%s: Entra ID refused the token request; check tenant_id, client_id, the credential and scope", what)
}

// reauthNext is the next step when Entra ID no longer accepts a credential's grant.
func reauthNext(cfg *config) string {
	switch cfg.kind {
	case CredentialAzureCLI, CredentialDefault:
		return "run `az login`"
	case CredentialWorkloadIdentity:
		return "check that Kubernetes rotates the token in " + cfg.fedToken
	}
	_, next := credentialKey(cfg)
	return next
}

// fromCode maps an AADSTS code to a kind, the option at fault, its meaning and the next step; it returns
// nil for codes it does not know.
func fromCode(code int, corr string, cfg *config) error {
	ref := fmt.Sprintf("AADSTS%d", code)
	in := ""
	if cfg.clientID != "" {
		in = " for client " + cfg.clientID
	}
	if cfg.tenantID != "" {
		in += " in tenant " + cfg.tenantID
	}
	bad := func(key, meaning, next string) error {
		if cfg.kind == CredentialDefault {
			// The chain's identity comes from the environment, not from options.
			key, next = "credential", next+" (with credential: default these come from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)"
		}
		return sdk.BadConfig(key, "Entra ID refused the token request%s (%s: %s); %s%s", in, ref, meaning, next, correlation(corr))
	}
	reauth := func(meaning, next string) error {
		return sdk.ReauthRequired("Entra ID refused the token request%s (%s: %s); %s%s", in, ref, meaning, next, correlation(corr))
	}
	login := "run `az login`"
	if cfg.tenantID != "" {
		login = "run `az login --tenant " + cfg.tenantID + "`"
	}
	switch code {
	case 7000215:
		return bad("client_secret", "invalid client secret",
			"check that client_secret holds the secret's Value (not its Secret ID) of this app registration: Entra admin center → App registrations → Certificates & secrets; create a new secret if the value is lost")
	case 7000222:
		return bad("client_secret", "the client secret has expired",
			"create a new client secret (App registrations → Certificates & secrets → New client secret) and update client_secret")
	case 7000218:
		key, next := credentialKey(cfg)
		return bad(key, "the request carried no client secret or client assertion", next)
	case 90002:
		return bad("tenant_id", "tenant not found",
			"check tenant_id (Entra admin center → Overview → Tenant ID) and that authority_host is the cloud the tenant lives in")
	case 900023, 90013, 50059:
		return bad("tenant_id", "invalid tenant identifier",
			"set tenant_id to the directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com")
	case 700016:
		return bad("client_id", "application not found in the directory",
			"check client_id (the app registration's Application (client) ID) and tenant_id: the app may be registered in another tenant, or lack a service principal there (admin consent)")
	case 7000112:
		return bad("client_id", "the application is disabled", "ask an administrator to enable the app registration's service principal (Enterprise applications → Properties)")
	case 65001:
		return bad("client_id", "the application has no consent for this resource", "ask an administrator to grant admin consent for the app in tenant "+cfg.tenantID)
	case 700027, 700023:
		return bad("certificate_file", "the client assertion's signature is not valid for this app",
			"upload the public certificate of certificate_file to the app registration (Certificates & secrets → Certificates), or check client_id")
	case 700024:
		if cfg.kind == CredentialWorkloadIdentity {
			return bad("federated_token_path", "the federated token is outside its validity period",
				"the projected service account token in "+cfg.fedToken+" has expired: check that Kubernetes rotates it (serviceAccountToken projection) and the node's clock")
		}
		return bad("certificate_file", "the client assertion is outside its validity period", "check this machine's clock")
	case 70021, 700211, 700212, 700213:
		return bad("client_id", "no federated identity credential matches the presented token",
			"add a federated credential to the app or user-assigned identity "+cfg.clientID+" whose issuer, subject (system:serviceaccount:<namespace>:<service account>) and audience (api://AzureADTokenExchange) match the token")
	case 50027:
		key := "certificate_file"
		if cfg.kind == CredentialWorkloadIdentity {
			key = "federated_token_path"
		}
		return bad(key, "the client assertion is not a valid JWT", "check that "+key+" holds what Entra ID expects")
	case 70011, 1002012:
		return bad("scope", "the scope is not valid for client credentials",
			"set scope to the resource's .default scope, e.g. "+DefaultScope)
	case 500011:
		return bad("scope", "the resource named in scope is not in the tenant",
			"check scope; for Azure OpenAI it is "+DefaultScope+" (some deployments use https://ai.azure.com/.default)")
	case 50034, 90072, 50020:
		return reauth("the signed-in user is not in this tenant", login+" with an account of the tenant")
	case 50076, 50079, 50074:
		return reauth("multi-factor authentication is required", login+" and complete the MFA prompt")
	case 53003:
		return reauth("blocked by a Conditional Access policy", "sign in from a device and location your organisation allows, or ask its administrator")
	case 700082, 70043, 50173, 50078, 50133:
		return reauth("the sign-in has expired", login)
	case 50126:
		return reauth("invalid username or password", login)
	case 90033, 90055, 90051:
		return sdk.Unavailable("Entra ID reported a transient failure%s (%s); try again later%s", in, ref, correlation(corr))
	}
	return nil
}

// credentialKey returns the option holding the client's credential and the next step for a rejected one.
func credentialKey(cfg *config) (string, string) {
	switch cfg.kind {
	case CredentialClientCertificate:
		return "certificate_file", "check that certificate_file's certificate is uploaded to the app registration " + cfg.clientID
	case CredentialWorkloadIdentity:
		return "federated_token_path", "check the federated credential of " + cfg.clientID + " and the token in " + cfg.fedToken
	case CredentialDefault:
		return "credential", "check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) in the environment"
	}
	return "client_secret", "check client_id and client_secret (the secret's Value, not its Secret ID)"
}

// aadstsCode returns the first AADSTS code in s, or 0.
func aadstsCode(s string) int {
	m := aadstsPattern().FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// correlation formats Entra ID's correlation ID for support requests.
func correlation(id string) string {
	if id == "" {
		return ""
	}
	return " (correlation ID " + id + ")"
}
