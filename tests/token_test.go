package tests

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTokenPrintsIssuedToken runs `tokenhost token corp` against the loopback token endpoint with both
// client authentication styles: the one line printed is a token that endpoint issued, fetched with the
// configured style, and --json describes it.
func TestTokenPrintsIssuedToken(t *testing.T) {
	for _, style := range []string{"basic", "post"} {
		t.Run(style, func(t *testing.T) {
			g := newGatewayFakes(t)
			cfg := writeConfig(t, "", g, provider{name: "corp", authStyle: style, secretEnv: "CORP_SECRET"})
			env := []string{"CORP_SECRET=" + g.secret}

			r := tokenhost(t, cfg, env, "token", "corp")
			if r.code != 0 {
				t.Fatalf("token corp failed\n%s", r)
			}
			if !oneLine(r.stdout) || !strings.HasSuffix(r.stdout, "\n") {
				t.Fatalf("stdout is not exactly one line\n%s", r)
			}
			tok := strings.TrimSuffix(r.stdout, "\n")
			if !g.idp.Valid(tok) {
				t.Errorf("the printed value is not a valid token issued by the token endpoint\n%s", r)
			}
			if got := g.idp.LastAuthStyle(); got != style {
				t.Errorf("the token endpoint saw client authentication %q, want %q", got, style)
			}
			if form := g.idp.LastForm(); form.Get("grant_type") != "client_credentials" || form.Get("scope") != "llm.invoke" {
				t.Errorf("token request form: grant_type=%q scope=%q, want client_credentials and llm.invoke",
					form.Get("grant_type"), form.Get("scope"))
			}
			if strings.Contains(r.stderr, g.secret) || strings.Contains(r.stderr, tok) {
				t.Errorf("stderr holds the secret or the token\n%s", r)
			}

			r = tokenhost(t, cfg, env, "token", "corp", "--json")
			if r.code != 0 {
				t.Fatalf("token corp --json failed\n%s", r)
			}
			var out struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int64  `json:"expires_in"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("--json output does not parse: %v\n%s", err, r)
			}
			if !g.idp.Valid(out.AccessToken) {
				t.Errorf("--json access_token is not a valid token issued by the token endpoint\n%s", r)
			}
			if out.TokenType != "Bearer" {
				t.Errorf("--json token_type = %q, want Bearer", out.TokenType)
			}
			if out.ExpiresIn <= 0 {
				t.Errorf("--json expires_in = %d, want > 0", out.ExpiresIn)
			}
			if strings.Contains(r.stdout+r.stderr, g.secret) {
				t.Errorf("--json output holds the client secret\n%s", r)
			}
		})
	}
}

// TestTokenWrongSecret: a secret the token endpoint rejects ends in a non-zero exit and one line on stderr
// naming the provider and the OAuth error, with neither the wrong nor the right secret anywhere.
func TestTokenWrongSecret(t *testing.T) {
	g := newGatewayFakes(t)
	wrong := newSecret(t, "wrong-secret")
	cfg := writeConfig(t, "", g, provider{name: "corp", secretEnv: "CORP_SECRET"})

	r := tokenhost(t, cfg, []string{"CORP_SECRET=" + wrong}, "token", "corp")
	if r.code == 0 {
		t.Fatalf("token corp with a wrong secret exited 0\n%s", r)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty on failure\n%s", r)
	}
	if !oneLine(r.stderr) {
		t.Errorf("stderr is not exactly one line\n%s", r)
	}
	if !strings.Contains(r.stderr, "corp") || !strings.Contains(r.stderr, "invalid_client") {
		t.Errorf("stderr does not name the provider corp and the OAuth error invalid_client\n%s", r)
	}
	for _, s := range []string{wrong, g.secret} {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("the output holds a client secret\n%s", r)
		}
	}
	if g.idp.Requests() == 0 {
		t.Errorf("the token endpoint was never asked")
	}
}

// TestPluginLogLines: with --log-level debug the plugin's own log lines reach the host's stderr tagged
// with the provider, and no line holds the secret or the token.
func TestPluginLogLines(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")

	r := tokenhost(t, cfg, env, "token", "corp", "--log-level", "debug")
	if r.code != 0 {
		t.Fatalf("token corp --log-level debug failed\n%s", r)
	}
	tok := strings.TrimSpace(r.stdout)
	if !g.idp.Valid(tok) {
		t.Fatalf("the printed value is not a valid token\n%s", r)
	}
	tagged, fromPlugin, parsed := 0, 0, 0
	for _, line := range strings.Split(r.stderr, "\n") {
		if !strings.Contains(line, "provider=corp") {
			continue
		}
		tagged++
		// The gateway plugin logs this itself, at debug level, through the slog handler sdk.Serve installs
		// in the plugin process; the host must log it as its own line: that message at that level, not
		// the plugin's raw JSON line wrapped in a host message.
		if strings.Contains(line, "gateway: token fetched") {
			fromPlugin++
			if strings.Contains(line, `level=DEBUG msg="gateway: token fetched"`) && !strings.Contains(line, "@message") {
				parsed++
			}
		}
	}
	if tagged == 0 {
		t.Errorf("no stderr line is tagged provider=corp\n%s", r)
	}
	if fromPlugin == 0 {
		t.Errorf("the plugin's own debug line (gateway: token fetched) did not reach stderr tagged provider=corp\n%s", r)
	} else if parsed == 0 {
		t.Errorf("the plugin's log line reached stderr unparsed (its JSON as the message) instead of as a "+
			"debug line with the message \"gateway: token fetched\"\n%s", r)
	}
	if strings.Contains(r.stderr, g.secret) {
		t.Errorf("stderr holds the client secret\n%s", r)
	}
	if strings.Contains(r.stderr, tok) {
		t.Errorf("stderr holds the token\n%s", r)
	}
}
