package gemini

import (
	"os"
	"path/filepath"

	"github.com/tokenhost/tokenhost/sdk"
)

// homeEnv are the variables that move the home directory, and with it the default oauth_creds.json and
// gcloud's well-known ADC file.
var homeEnv = []string{"HOME", "USERPROFILE", "APPDATA"}

// identity returns what, beside the options, decides whose token the configuration gets (sdk.Info's
// IdentityFrom): the variables the plugin reads (GOOGLE_APPLICATION_CREDENTIALS among them), the ADC file
// it names or gcloud's well-known one, and, when the source was chosen by whether oauth_creds.json
// exists, that file. gemini_cli keeps its tokens out of the host's cache (NoTokenCache) and names nothing.
func (c *config) identity() []sdk.IdentitySource {
	if c.source == SourceGeminiCLI {
		return nil
	}
	from := sdk.IdentityEnv(Environment...)
	home := false
	if c.autoSource && c.credsFile != "" {
		from = append(from, sdk.IdentityFile(c.credsFile))
		home = c.defaultCreds && os.Getenv(envGeminiHome) == ""
	}
	if c.source == SourceADC || c.source == SourceServiceAccount {
		switch env := os.Getenv(envADC); {
		case c.adcFile != "":
			from = append(from, sdk.IdentityFile(c.adcFile))
		case env != "":
			if abs, err := filepath.Abs(env); err == nil {
				env = abs
			}
			from = append(from, sdk.IdentityFile(env))
		case c.source == SourceADC:
			if f := wellKnownADCFile(); f != "" {
				from = append(from, sdk.IdentityFile(f))
				home = home || os.Getenv("CLOUDSDK_CONFIG") == ""
			}
		}
	}
	if home {
		from = append(from, sdk.IdentityEnv(homeEnv...)...)
	}
	return from
}
