// Package sdk is what a tokenhost provider plugin imports: the Source contract and its optional parts
// (Interactive, StorageUser), the Token and Info types, the error kinds the host acts on, the Options
// readers, the redaction helpers, and Serve for plugin mains. The adapters between these types and the
// gRPC wire are here too, unexported; the host's side of the plumbing (handshake, TLS, plugin set) is in
// the module's internal/pluginrpc.
package sdk

import (
	"context"
	"time"
)

// Token is one credential a provider hands to the host.
type Token struct {
	// Value is the credential itself; it never appears in logs or errors.
	Value string
	// Type is the token type; "Bearer" unless the provider says otherwise.
	Type string
	// Expiry is when the token stops working; zero means unknown (valid until rejected).
	Expiry time.Time
	// RefreshAt, when set, is when the provider wants the host to fetch a new token (e.g. Entra's refresh_in).
	RefreshAt time.Time
	// Headers are extra headers the upstream requires with this token (e.g. ChatGPT-Account-ID).
	Headers map[string]string
}

// Info describes a configured provider: who serves it and where its tokens may go.
type Info struct {
	// Name is the plugin's name, e.g. "gateway".
	Name string
	// Version is the plugin's own version.
	Version string
	// Upstream is the default upstream base URL; the host config may override it.
	Upstream string
	// AllowedHosts are extra hosts, beside the upstream's, that may receive the token.
	AllowedHosts []string
	// Header, when set, is the header the credential goes in by default (the config may override it).
	Header string
	// Scheme is the prefix before the value in Header; used only when Header is set ("" sends the bare value).
	Scheme string
	// Mode is a short human description of how tokens are obtained, shown by `tokenhost check`.
	Mode string
	// MaxFetch is the longest one Token or Refresh call may take (e.g. lock wait + token request); the
	// host's fetch timeout is never shorter than this. Zero means the configured fetch_timeout suffices.
	MaxFetch time.Duration
	// NoTokenCache asks the host not to keep this plugin's tokens in its on-disk cache between `tokenhost
	// token` calls: they already live in a file the plugin shares with another program, must not be
	// copied, or depend on something IdentityFrom cannot name (a helper command's own sign-in).
	NoTokenCache bool
	// IdentityFrom names what, beside the options block, decides whose token the plugin returns: the files
	// it reads (a stored sign-in, a credentials file another tool rewrites) and the environment variables
	// it consults. `tokenhost token` reuses a token it cached only while every one of them is as it was
	// when the token was fetched. Empty: the options decide alone.
	IdentityFrom []IdentitySource
	// UsesStorage says the plugin keeps its state in the Storage the host offered (see StorageUser), so
	// that state is the fleet's rather than this host's. The host ignores it when it offered no storage.
	UsesStorage bool
}

// IdentitySource is one file or one environment variable that decides whose token a plugin returns; set
// exactly one of its fields (IdentityFile and IdentityEnv build them).
type IdentitySource struct {
	// File is the absolute path of a file whose content, or absence, decides the identity.
	File string
	// Env is the name of an environment variable whose value, or absence, decides it; a name ending in
	// "*" stands for every variable with that prefix (e.g. "AZURE_*").
	Env string
}

// IdentityFile names a file whose content decides whose token the plugin returns.
func IdentityFile(path string) IdentitySource { return IdentitySource{File: path} }

// IdentityEnv names environment variables (a trailing "*" is a prefix) whose values decide it.
func IdentityEnv(names ...string) []IdentitySource {
	out := make([]IdentitySource, len(names))
	for i, n := range names {
		out[i] = IdentitySource{Env: n}
	}
	return out
}

// Source is the token contract every provider plugin implements.
type Source interface {
	// Configure gets the provider's options block from the host config, once, before any token call.
	Configure(ctx context.Context, options map[string]any) (Info, error)
	// Token returns a usable token; the plugin may serve it from its own store.
	Token(ctx context.Context) (Token, error)
	// Refresh returns a token other than stale, bypassing every cache the plugin owns. The host calls it
	// after the upstream rejected stale, and ahead of stale's expiry.
	Refresh(ctx context.Context, stale Token) (Token, error)
}
