package azure

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// Info names what the host's token cache must watch per credential: the variables, the certificate, the
// federated token file, the Azure CLI's sign-in files; the default chain opts out.
func TestInfoNamesWhatDecidesTheIdentity(t *testing.T) {
	e, ca := entra(t)
	dir := t.TempDir()
	fed, azdir := filepath.Join(dir, "azure-identity-token"), filepath.Join(dir, "az")
	t.Setenv("AZURE_CONFIG_DIR", azdir)
	if err := os.WriteFile(fed, []byte(jwt("first")), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := writeCertificate(t)
	vars := sdk.IdentityEnv(Environment...)
	var cli []sdk.IdentitySource
	for _, f := range azureCLIFiles {
		cli = append(cli, sdk.IdentityFile(filepath.Join(azdir, f)))
	}
	cases := []struct {
		name  string
		opts  map[string]any
		want  []sdk.IdentitySource
		noCLI bool
	}{
		{"client_secret: the variables", secretOptions(e, ca, nil), vars, false},
		{"client_certificate: and the certificate", secretOptions(e, ca, map[string]any{"credential": "client_certificate", "client_secret": nil, "certificate_file": cert}),
			append(vars, sdk.IdentityFile(cert)), false},
		{"workload_identity: and the federated token file", secretOptions(e, ca, map[string]any{"credential": "workload_identity", "client_secret": nil, "federated_token_path": fed}),
			append(vars, sdk.IdentityFile(fed)), false},
		{"azure_cli: and its sign-in files", map[string]any{"credential": "azure_cli"}, append(vars, cli...), false},
		{"default chain: opts out", map[string]any{}, nil, true},
	}
	for _, c := range cases {
		src, _ := configure(t, c.opts)
		info := src.cfg.info()
		if !slices.Equal(info.IdentityFrom, c.want) || info.NoTokenCache != c.noCLI {
			t.Errorf("%s: IdentityFrom %+v, NoTokenCache %v; want %+v, %v", c.name, info.IdentityFrom, info.NoTokenCache, c.want, c.noCLI)
		}
	}
}
