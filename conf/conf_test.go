package conf_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenhost/tokenhost/conf"
	"github.com/tokenhost/tokenhost/core/config"
)

// sources has every built-in plugin and the environment variables the examples name.
func sources(t *testing.T) config.Sources {
	return config.Sources{
		Builtins: []string{"azure", "codex", "gateway", "gemini", "mcp"},
		Dir:      t.TempDir(),
		Environ:  []string{"HOME=" + t.TempDir(), "CORP_LLM_CLIENT_SECRET=example-secret"},
	}
}

func TestDefaultParses(t *testing.T) {
	cfg, err := config.Parse(conf.Default, config.EmbeddedSource, sources(t))
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if cfg.Server.Listen != config.DefaultListen || cfg.Server.ShutdownGrace != config.DefaultShutdownGrace {
		t.Errorf("embedded default server block: %+v", cfg.Server)
	}
	disk, err := os.ReadFile("tokenhost.yaml")
	if err != nil || string(disk) != string(conf.Default) {
		t.Errorf("Default does not match conf/tokenhost.yaml (%v)", err)
	}
}

func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob("*.example.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	embedded, err := fs.Glob(conf.Examples, "*.example.yaml")
	if err != nil || len(embedded) != len(files) {
		t.Errorf("Examples embeds %v, the directory holds %v", embedded, files)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(data, name, sources(t))
		if err != nil {
			t.Errorf("%s:\n%v", name, err)
			continue
		}
		if len(cfg.Providers) == 0 {
			t.Errorf("%s defines no provider", name)
		}
	}
}

func TestGatewayExample(t *testing.T) {
	data, err := fs.ReadFile(conf.Examples, "gateway.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, "gateway.example.yaml", sources(t))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Provider("corp")
	if p == nil || p.Plugin != "gateway" {
		t.Fatalf("corp provider: %+v", p)
	}
	for _, k := range []string{"grant", "token_url", "client_id", "client_secret", "scopes", "audience", "extra_params", "auth_style"} {
		if _, ok := p.Options[k]; !ok {
			t.Errorf("gateway example lacks option %s", k)
		}
	}
	if p.Options["client_secret"] != "example-secret" {
		t.Error("client_secret_env was not resolved")
	}
}
