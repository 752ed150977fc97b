package gemini

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tokenhost/tokenhost/internal/homedir"
)

// defaultCredsFile returns where the Gemini CLI keeps its sign-in: $GEMINI_CLI_HOME/.gemini/oauth_creds.json
// when GEMINI_CLI_HOME is set (it replaces the home directory), else ~/.gemini/oauth_creds.json.
func defaultCredsFile() (string, error) {
	home := os.Getenv(envGeminiHome)
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(home, ".gemini", "oauth_creds.json"), nil
}

// wellKnownADCFile returns where `gcloud auth application-default login` writes its credentials.
func wellKnownADCFile() string {
	if runtime.GOOS == "windows" {
		if d := os.Getenv("APPDATA"); d != "" {
			return filepath.Join(d, "gcloud", "application_default_credentials.json")
		}
		return ""
	}
	if d := os.Getenv("CLOUDSDK_CONFIG"); d != "" {
		return filepath.Join(d, "application_default_credentials.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
}

// expandHome expands a leading ~ (homedir.Expand) and makes the path absolute.
func expandHome(p string) (string, error) {
	p, err := homedir.Expand(strings.TrimSpace(p), os.UserHomeDir)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%q is not a usable path", p)
	}
	return abs, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// tildePath shortens a path under the home directory to ~/...
func tildePath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return "~" + string(filepath.Separator) + rel
	}
	return p
}
