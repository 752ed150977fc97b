package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// target is one plugin to start: the program (a built-in runs as the tokenhost binary, an external
// plugin as its own), the environment it gets beside PATH and HOME, and the options its provider's config
// would give it.
type target struct {
	name     string
	external bool
	exe      string
	autoMTLS bool // start it as a host did before it made its plugins' TLS credentials (go-plugin's AutoMTLS)
	env      []string
	options  map[string]any
}

// Identities of the fakes; none is real.
const (
	gatewayClient = "bench-client"
	gatewaySecret = "bench-secret-not-real"
	geminiClient  = "bench-gemini.apps.googleusercontent.com"
	geminiSecret  = "bench-gemini-secret-not-real"
	geminiRefresh = "1//bench-gemini-refresh-not-real"
	azureClient   = "3b7c1d2e-9f40-4a51-8c62-7d8e9fa0b1c2"
	azureSecret   = "bench-azure-secret-not-real"
	corpSecret    = "bench-corp-secret-not-real"
)

// newTargets starts the loopback fakes every plugin needs and returns the plugins to measure, and a
// function that stops the fakes and removes their files.
func newTargets() ([]target, func(), error) {
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	dir, err := os.MkdirTemp("", "tokenhost-pluginweight-")
	if err != nil {
		return nil, cleanup, err
	}
	closers = append(closers, func() { os.RemoveAll(dir) })
	builtin := func(name string) []string { return []string{"TOKENHOST_BUILTIN_PLUGIN=" + name} }

	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: gatewayClient, ClientSecret: gatewaySecret, ExpiresIn: time.Hour})
	closers = append(closers, idp.Close)
	gateway := target{name: "gateway", env: builtin("gateway"), options: map[string]any{
		"grant": "client_credentials", "token_url": idp.TokenURL(), "client_id": gatewayClient, "client_secret": gatewaySecret,
	}}

	codexAuth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{AccessLife: time.Hour})
	closers = append(closers, codexAuth.Close)
	authFile := filepath.Join(dir, "auth.json")
	codex := target{name: "codex", env: builtin("codex"), options: map[string]any{
		"auth_file": authFile, "token_url": codexAuth.TokenURL(),
	}}
	signIn := codexAuth.Issue() // as `codex login` leaves it; a refresh writes the file back
	if err := fakes.WriteCodexAuth(authFile, signIn.AccessToken, signIn.RefreshToken, signIn.IDToken, codexAuth.AccountID(), nil); err != nil {
		return nil, cleanup, err
	}

	google := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{ClientID: geminiClient, ClientSecret: geminiSecret, ExpiresIn: time.Hour})
	closers = append(closers, google.Close)
	google.AddRefreshToken(geminiRefresh)
	creds := filepath.Join(dir, ".gemini", "oauth_creds.json")
	if err := fakes.WriteGeminiCreds(creds, "ya29.bench-expired-access-token", geminiRefresh, time.Now().Add(-time.Hour), nil); err != nil {
		return nil, cleanup, err
	}
	gemini := target{name: "gemini", env: builtin("gemini"), options: map[string]any{
		"source": "gemini_cli", "creds_file": creds, "token_url": google.TokenURL(), "client_id": geminiClient, "client_secret": geminiSecret,
	}}

	entra := fakes.NewEntra(fakes.EntraConfig{ClientID: azureClient, ClientSecret: azureSecret, ExpiresIn: time.Hour})
	closers = append(closers, entra.Close)
	caFile, err := entra.CAFile(dir)
	if err != nil {
		return nil, cleanup, err
	}
	azure := target{name: "azure", env: builtin("azure"), options: map[string]any{
		"credential": "client_secret", "tenant_id": entra.TenantID(), "client_id": azureClient, "client_secret": azureSecret,
		"authority_host": entra.AuthorityHost(), "ca_file": caFile, "instance_discovery": false,
	}}

	corpURL := corpService()
	closers = append(closers, corpURL.Close)
	corp := target{name: "external (examples/plugin)", external: true, options: map[string]any{
		"token_url": corpURL.URL + "/issue", "client_id": "bench", "client_secret": corpSecret, "tenant": "bench",
	}}
	return []target{gateway, codex, gemini, azure, corp}, cleanup, nil
}

// corpService is the token service examples/plugin speaks to: a form in, {"jwt", "valid_for_minutes"} out.
func corpService() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_secret") != corpSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"jwt": fmt.Sprintf("corp.%d", time.Now().UnixNano()), "valid_for_minutes": 30})
	}))
}
