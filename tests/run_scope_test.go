package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// printedEnvNames returns the variable names in the output of env(1), one KEY=VALUE a line; values are dropped
// so that no failure message shows one.
func printedEnvNames(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(line, "="); ok && name != "" && !strings.ContainsAny(name, " \t") {
			names = append(names, name)
		}
	}
	return names
}

// `tokenhost run corp -- env`: the command sees PATH, HOME, the user's own variables and the run's two,
// but none of the variables the configuration reads secrets from (a resolved client_secret_env, a
// plugin-read key_env and subject_token_env, a helper_env list, store.encryption_key_env), none a plugin
// may see (a provider's env: list, the azure built-in's AZURE_*), and no TOKENHOST_* variable — except
// the one --keep-env names.
func TestRunWithholdsSecretsFromTheCommand(t *testing.T) {
	needBinaries(t)
	// run fetches corp's token before the command starts: corp's token endpoint answers.
	corpSecret := newSecret(t, "corp-secret")
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "run-client", ClientSecret: corpSecret})
	t.Cleanup(idp.Close)
	providers := `
providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:1/v1
    env: [CORP_PLUGIN_VAR]
    options:
      grant: client_credentials
      token_url: ` + idp.TokenURL() + `
      client_id: run-client
      client_secret_env: CORP_CLIENT_SECRET
  other:
    plugin: gateway
    upstream: http://127.0.0.1:1/v1
    options:
      grant: static
      key_env: OTHER_KEY
  exch:
    plugin: gateway
    upstream: http://127.0.0.1:1/v1
    options:
      grant: token_exchange
      token_url: http://127.0.0.1:1/token
      subject_token_env: SUBJECT_TOKEN
      helper_env: [HELPER_VAR]
  az:
    plugin: azure
    options:
      credential: default
      resource: my-openai-resource
`
	env := []string{
		"CORP_CLIENT_SECRET=" + corpSecret, "OTHER_KEY=" + newSecret(t, "other-key"),
		"SUBJECT_TOKEN=" + newSecret(t, "subject"), "HELPER_VAR=" + newSecret(t, "helper"),
		"CORP_PLUGIN_VAR=" + newSecret(t, "plugin-var"), "AZURE_CLIENT_SECRET=" + newSecret(t, "azure"),
		"TOKENHOST_SERVER__API_KEYS=" + newSecret(t, "api-key"), "TOKENHOST_SOMETHING=x", "UNRELATED_VAR=visible",
	}
	withheld := []string{"CORP_CLIENT_SECRET", "SUBJECT_TOKEN", "HELPER_VAR", "CORP_PLUGIN_VAR", "AZURE_CLIENT_SECRET",
		"TOKENHOST_SERVER__API_KEYS", "TOKENHOST_SOMETHING"}
	kept := []string{"PATH", "HOME", "UNRELATED_VAR", "OPENAI_BASE_URL", "OPENAI_API_KEY", "OTHER_KEY"}

	check := func(t *testing.T, cfg string, env, withheld, kept []string) {
		t.Helper()
		r := tokenhost(t, "", env, "run", "corp", "--config", cfg, "--keep-env", "OTHER_KEY", "--", "env")
		if r.code != 0 {
			t.Fatalf("tokenhost run corp -- env:\n%s", r)
		}
		names := printedEnvNames(r.stdout)
		for _, n := range withheld {
			if slices.Contains(names, n) {
				t.Errorf("the command's environment holds %s; tokenhost must withhold it", n)
			}
		}
		for _, n := range kept {
			if !slices.Contains(names, n) {
				t.Errorf("the command's environment lacks %s (it has %q)", n, names)
			}
		}
	}
	t.Run("providers", func(t *testing.T) {
		check(t, writeFile(t, "", "tokenhost.yaml", providers), env, withheld, kept)
	})
	t.Run("redis store key", func(t *testing.T) {
		srv := redistest.Start(t)
		key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
		cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf("store:\n  backend: redis\n  url: %s\n  encryption_key_env: STORE_KEY\n", srv.URL())+providers)
		check(t, cfg, append(env, "STORE_KEY="+key), append(withheld, "STORE_KEY"), kept)
	})
}

// `tokenhost run corp`: with the run's key, corp's path answers through corp's upstream, and a path of
// another configured provider is refused with 403 provider_not_served — nothing reaches that provider's
// upstream.
func TestRunServesOnlyTheNamedProvider(t *testing.T) {
	needBinaries(t)
	secret, otherKey := newSecret(t, "run-secret"), newSecret(t, "other-key")
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "run-client", ClientSecret: secret})
	up := fakes.NewUpstream(idp.Valid)
	otherUp := fakes.NewUpstream(func(tok string) bool { return tok == otherKey })
	t.Cleanup(func() { up.Close(); otherUp.Close(); idp.Close() })
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf(`
providers:
  corp:
    plugin: gateway
    upstream: %s
    options:
      grant: client_credentials
      token_url: %s
      client_id: run-client
      client_secret_env: RUN_SECRET
  other:
    plugin: gateway
    upstream: %s
    env: [OTHER_KEY]
    options:
      grant: static
      key_env: OTHER_KEY
`, up.URL(), idp.TokenURL(), otherUp.URL()))

	// The command prints the run's base URL and key for the test, then waits for a line on stdin.
	cmd := exec.Command(bins.tokenhost, "run", "corp", "--config", cfg, "--",
		"sh", "-c", `echo "base $OPENAI_BASE_URL $OPENAI_API_KEY"; read line`)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv(t, "RUN_SECRET="+secret, "OTHER_KEY="+otherKey)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := watchLines(stdout)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	out.wait(t, "base http://127.0.0.1:")
	out.mu.Lock()
	f := strings.Fields(out.lines[0])
	out.mu.Unlock()
	if len(f) != 3 || !strings.HasSuffix(f[1], "/corp") {
		t.Fatalf("the command saw %d fields; want the base URL for corp and the run's key", len(f))
	}
	base, key := f[1], f[2]
	get := func(url string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		body, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(body, &e)
		return resp.StatusCode, e.Error.Code
	}

	otherBase := strings.TrimSuffix(base, "/corp") + "/other"
	if status, code := get(otherBase + "/models"); status != http.StatusForbidden || code != "provider_not_served" {
		t.Errorf("with the run's key, /other/models answered %d %q; want 403 provider_not_served", status, code)
	}
	if n := otherUp.Requests(); n != 0 {
		t.Errorf("%d requests reached the upstream of provider other, which the run does not serve", n)
	}
	if status, _ := get(base + "/models"); status != http.StatusOK || up.Requests() == 0 {
		t.Errorf("with the run's key, /corp/models answered %d (%d upstream requests); want 200 from corp's upstream", status, up.Requests())
	}
	_, _ = io.WriteString(stdin, "done\n")
	err := <-done
	done <- err // for the cleanup
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("tokenhost run exited %d, want the command's 0", code)
	}
}
