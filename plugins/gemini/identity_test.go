package gemini

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// Info names the ADC file the library will read (from adc_file, GOOGLE_APPLICATION_CREDENTIALS or gcloud's
// well-known place), the variables that move it, and oauth_creds.json when its existence chose the source;
// gemini_cli names nothing and keeps out of the host's token cache.
func TestInfoNamesWhatDecidesTheIdentity(t *testing.T) {
	vars := sdk.IdentityEnv(Environment...)
	cases := []struct {
		name string
		opts map[string]any
		env  func(t *testing.T, home string)
		want func(home string) []sdk.IdentitySource
	}{
		{"adc_file", map[string]any{"source": SourceADC, "adc_file": "/etc/adc.json"}, nil,
			func(string) []sdk.IdentitySource { return append(vars, sdk.IdentityFile("/etc/adc.json")) }},
		{"GOOGLE_APPLICATION_CREDENTIALS", map[string]any{"source": SourceServiceAccount},
			func(t *testing.T, home string) { t.Setenv(envADC, filepath.Join(home, "sa.json")) },
			func(home string) []sdk.IdentitySource {
				return append(vars, sdk.IdentityFile(filepath.Join(home, "sa.json")))
			}},
		{"gcloud's file under CLOUDSDK_CONFIG", map[string]any{"source": SourceADC},
			func(t *testing.T, home string) { t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gc")) },
			func(home string) []sdk.IdentitySource {
				return append(vars, sdk.IdentityFile(filepath.Join(home, "gc", "application_default_credentials.json")))
			}},
		{"chosen because oauth_creds.json is absent: it and gcloud's file under the home directory", map[string]any{}, nil,
			func(home string) []sdk.IdentitySource {
				return append(append(vars, sdk.IdentityFile(filepath.Join(home, ".gemini", "oauth_creds.json")),
					sdk.IdentityFile(filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"))), sdk.IdentityEnv(homeEnv...)...)
			}},
		{"metadata: the variables", map[string]any{"source": SourceMetadata}, nil, func(string) []sdk.IdentitySource { return vars }},
		{"gemini_cli: nothing", map[string]any{"source": SourceGeminiCLI}, nil, func(string) []sdk.IdentitySource { return nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := isolate(t)
			if c.env != nil {
				c.env(t, home)
			}
			info, err := New().Configure(t.Context(), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.want(home); !slices.Equal(info.IdentityFrom, want) {
				t.Errorf("IdentityFrom %+v, want %+v", info.IdentityFrom, want)
			}
			if info.NoTokenCache != (c.opts["source"] == SourceGeminiCLI) {
				t.Errorf("NoTokenCache %v", info.NoTokenCache)
			}
		})
	}
}
