package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tokenhost/tokenhost/internal/secretopt"
	"github.com/tokenhost/tokenhost/sdk"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// hostResolve does what the host's config loader does to an options block before Configure: X_env and
// X_file of a secret X become X at any depth, except the ones the plugin reads itself.
func hostResolve(t *testing.T, opts map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range opts {
		if m, ok := v.(map[string]any); ok {
			v = hostResolve(t, m)
		}
		base, isEnv := strings.CutSuffix(k, "_env")
		if !isEnv {
			base, _ = strings.CutSuffix(k, "_file")
		}
		if base != k && sdk.IsSecretKey(base) && !secretopt.PluginReads(k) {
			out[base] = "resolved-" + base + "-value"
			continue
		}
		out[k] = v
	}
	return out
}

// Every recipe on the provider page is a complete configuration the plugin accepts.
func TestRecipesConfigure(t *testing.T) {
	data, err := os.ReadFile("../../docs/providers/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	_, recipes, ok := strings.Cut(page, "## Recipes")
	if !ok {
		t.Fatal("the page has no Recipes section")
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	writeECKey(t, keyFile)
	titles := []string{"Okta service app with private_key_jwt", "Keycloak token exchange", "Kubernetes workload token",
		"GitHub Actions OIDC", "company CLI via exec", "API key plus a tenant header", "device code",
		"tenant header on the token endpoint"}
	for _, title := range titles {
		if !strings.Contains(recipes, title) {
			t.Errorf("no recipe titled like %q", title)
		}
	}
	blocks := yamlBlock.FindAllStringSubmatch(recipes, -1)
	if len(blocks) != len(titles) {
		t.Fatalf("%d yaml blocks in Recipes, want %d", len(blocks), len(titles))
	}
	for i, b := range blocks {
		var doc struct {
			Providers map[string]struct {
				Plugin   string         `yaml:"plugin"`
				Upstream string         `yaml:"upstream"`
				Options  map[string]any `yaml:"options"`
			} `yaml:"providers"`
		}
		if err := yaml.Unmarshal([]byte(b[1]), &doc); err != nil {
			t.Fatalf("recipe %d: %v", i, err)
		}
		if len(doc.Providers) != 1 {
			t.Fatalf("recipe %d: %d providers, want 1", i, len(doc.Providers))
		}
		for name, p := range doc.Providers {
			if p.Plugin != Name || !strings.HasPrefix(p.Upstream, "https://") {
				t.Errorf("recipe %d (%s): plugin %q upstream %q", i, name, p.Plugin, p.Upstream)
			}
			opts := hostResolve(t, p.Options)
			if _, ok := opts["private_key_file"]; ok {
				opts["private_key_file"] = keyFile // the recipe's path does not exist here
			}
			if _, err := New().Configure(t.Context(), opts); err != nil {
				t.Errorf("recipe %d (%s): %v", i, titles[i], err)
			}
		}
	}
}

func writeECKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}
