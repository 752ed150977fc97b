// Package config loads tokenhost's configuration: a YAML file (or the embedded default), then TOKENHOST_
// environment overrides, validated so that every error names the key path it is about.
package config

import "time"

// Config is a validated tokenhost configuration.
type Config struct {
	// Server configures `tokenhost serve`.
	Server Server
	// Store is where a host keeps what it shares with the other hosts of a fleet.
	Store Store
	// Providers are the configured providers, sorted by name.
	Providers []*Provider
	// Groups are the configured provider groups, sorted by name.
	Groups []*Group
	// Source says where the configuration came from: a file path, or "embedded default".
	Source string
	// secretVars are the environment variables the configuration reads credentials from (SecretVars).
	secretVars []string
	// NeedsTrust is set when Source is a file the user did not choose (./tokenhost.yaml) that loaded
	// because its content is trusted; a reload of it must find the new content trusted too.
	NeedsTrust bool
}

// Server is the `server` block.
type Server struct {
	// Listen is the proxy's address; loopback by default.
	Listen string
	// APIKeys are the inbound keys the proxy accepts; required for a non-loopback Listen.
	APIKeys []string
	// ShutdownGrace bounds how long in-flight requests may run after a shutdown signal.
	ShutdownGrace time.Duration
	// TLS is the proxy's certificate; required, with InsecurePlaintext unset, for a non-loopback Listen.
	TLS ServerTLS
	// InsecurePlaintext allows a non-loopback Listen without TLS, on purpose.
	InsecurePlaintext bool
	// AllowedOrigins are the web origins ("https://app.example") whose requests the proxy accepts; a
	// request with any other Origin header is refused.
	AllowedOrigins []string
}

// ServerTLS is the `server.tls` block: PEM files, resolved relative to the configuration file.
type ServerTLS struct {
	// CertFile is the certificate chain.
	CertFile string
	// KeyFile is the certificate's private key.
	KeyFile string
}

// Enabled reports whether a certificate is configured.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// Provider is one entry of the `providers` block.
type Provider struct {
	// Name is the provider's key in the config, used in routes, the CLI and metrics.
	Name string
	// Plugin is a built-in plugin name or a path to a plugin executable.
	Plugin string
	// SHA256 optionally pins an external plugin binary (lower-case hex).
	SHA256 string
	// Upstream is the upstream base URL; empty means the plugin's default.
	Upstream string
	// AllowedHosts are extra hosts that may receive the token.
	AllowedHosts []string
	// Header is where the credential goes; empty means the plugin's default, else Authorization.
	Header string
	// Scheme is the prefix before the value; meaningful only when SchemeSet.
	Scheme string
	// SchemeSet records that scheme was given explicitly (it may be "").
	SchemeSet bool
	// RefreshBefore is how long before expiry the host refreshes in the background.
	RefreshBefore time.Duration
	// RetryStatuses are the upstream statuses that trigger one refresh and resend.
	RetryStatuses []int
	// MinRefreshInterval is how long a token obtained by a refresh after a rejection is not refreshed
	// again when it is rejected too; zero turns the throttle off.
	MinRefreshInterval time.Duration
	// MaxIdleConnsPerHost is how many idle connections to the upstream the host keeps for reuse.
	MaxIdleConnsPerHost int
	// MaxReplayBytes bounds how much of a request body is buffered for a resend.
	MaxReplayBytes int64
	// Breaker configures the provider's circuit breakers.
	Breaker Breaker
	// FetchTimeout bounds one token fetch from the plugin.
	FetchTimeout time.Duration
	// TLS is the client certificate and CA bundle for connections to the upstream (the `tls` block).
	TLS TLS
	// Env names the host's environment variables the plugin process may see beside the minimal set (a
	// name ending in "*" is a prefix): its env: list, plus the variables its options name for the plugin to read
	// (key_env, subject_token_env, helper_env entries).
	Env []string
	// Shared says whether the provider's tokens and refreshes are shared through the store (default: true
	// when the store is shared: any backend but local).
	Shared bool
	// Options is handed to the plugin's Configure, with *_env and *_file secrets resolved.
	Options map[string]any
}

// TLS is a provider's `tls` block: absolute paths, empty when not given.
type TLS struct {
	// CertFile and KeyFile are a PEM client certificate and its key, presented to the upstream (mTLS).
	CertFile, KeyFile string
	// CAFile is a PEM bundle of the authorities trusted for the upstream instead of the system's.
	CAFile string
}

// Breaker is a provider's `breaker` block.
type Breaker struct {
	// Failures is how many consecutive failures open the breaker.
	Failures int
	// OpenFor is how long the breaker stays open before one probe is let through.
	OpenFor time.Duration
}

// Defaults for keys the user leaves out.
const (
	DefaultListen         = "127.0.0.1:8787"
	DefaultShutdownGrace  = 30 * time.Second
	DefaultRefreshBefore  = 5 * time.Minute
	DefaultMaxReplayBytes = 16 << 20
	DefaultFailures       = 5
	DefaultOpenFor        = 30 * time.Second
	DefaultFetchTimeout   = 30 * time.Second
	// DefaultMinRefreshInterval is the default of min_refresh_interval.
	DefaultMinRefreshInterval = time.Minute
	// DefaultMaxIdleConnsPerHost is the default of max_idle_conns_per_host: enough for a busy proxy to reuse
	// its upstream connections instead of dialling one per request.
	DefaultMaxIdleConnsPerHost = 64
)

// Provider returns the provider named name, or nil.
func (c *Config) Provider(name string) *Provider {
	for _, p := range c.Providers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Names returns the configured provider names in order.
func (c *Config) Names() []string {
	out := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		out[i] = p.Name
	}
	return out
}
