package tests

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/plugins/gateway"
)

// column returns the whitespace-delimited value of a tabwriter table row in the column whose header is
// name (the table's columns are left-aligned, so a value starts where its header does).
func column(t *testing.T, header, row, name string) string {
	t.Helper()
	i := strings.Index(header, name)
	if i < 0 {
		t.Fatalf("table header %q has no column %s", header, name)
	}
	if i >= len(row) {
		return ""
	}
	return strings.Fields(row[i:] + " ")[0]
}

// tableRows returns the header line of a table whose first column is first, and its rows by first field.
func tableRows(t *testing.T, out, first string) (string, map[string]string) {
	t.Helper()
	header, rows := "", map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == first {
			header = line
			continue
		}
		if header != "" {
			rows[f[0]] = line
		}
	}
	if header == "" {
		t.Fatalf("no table with a %s column in\n%s", first, redact(out))
	}
	return header, rows
}

// TestCheck: `tokenhost check` reports every provider, fails when one fails, and passes when all pass.
func TestCheck(t *testing.T) {
	g := newGatewayFakes(t)
	wrong := newSecret(t, "wrong-secret")
	env := []string{"CORP_SECRET=" + g.secret, "BAD_SECRET=" + wrong}

	t.Run("one bad provider", func(t *testing.T) {
		cfg := writeConfig(t, "", g,
			provider{name: "corp", secretEnv: "CORP_SECRET"},
			provider{name: "broken", secretEnv: "BAD_SECRET", authStyle: "post"})
		r := tokenhost(t, cfg, env, "check")
		if r.code == 0 {
			t.Fatalf("check exited 0 with a failing provider\n%s", r)
		}
		header, rows := tableRows(t, r.stdout, "PROVIDER")
		for _, col := range []string{"PLUGIN", "STATUS", "EXPIRES IN", "NEXT STEP"} {
			if !strings.Contains(header, col) {
				t.Errorf("check's table has no %s column\n%s", col, r)
			}
		}
		if len(rows) != 2 {
			t.Fatalf("check's table has %d rows, want 2 (corp, broken)\n%s", len(rows), r)
		}
		if got := column(t, header, rows["corp"], "STATUS"); got != "ok" {
			t.Errorf("corp's status = %q, want ok\n%s", got, r)
		}
		if got := column(t, header, rows["corp"], "PLUGIN"); got != "gateway" {
			t.Errorf("corp's plugin = %q, want gateway\n%s", got, r)
		}
		if got := column(t, header, rows["broken"], "STATUS"); got != "FAIL" {
			t.Errorf("broken's status = %q, want FAIL\n%s", got, r)
		}
		if !strings.Contains(rows["broken"], "invalid_client") {
			t.Errorf("broken's row does not say why it failed (invalid_client)\n%s", r)
		}
		for _, s := range []string{g.secret, wrong} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("check's output holds a client secret\n%s", r)
			}
		}
	})

	t.Run("all good", func(t *testing.T) {
		cfg := writeConfig(t, "", g,
			provider{name: "corp", secretEnv: "CORP_SECRET"},
			provider{name: "corp2", secretEnv: "CORP_SECRET", authStyle: "post"})
		r := tokenhost(t, cfg, env, "check")
		if r.code != 0 {
			t.Fatalf("check exited %d with only good providers\n%s", r.code, r)
		}
		header, rows := tableRows(t, r.stdout, "PROVIDER")
		for _, name := range []string{"corp", "corp2"} {
			if got := column(t, header, rows[name], "STATUS"); got != "ok" {
				t.Errorf("%s's status = %q, want ok\n%s", name, got, r)
			}
		}
	})
}

// TestPluginsCommand: `tokenhost plugins` lists the built-in gateway plugin with its version.
func TestPluginsCommand(t *testing.T) {
	r := tokenhost(t, "", nil, "plugins")
	if r.code != 0 {
		t.Fatalf("plugins failed\n%s", r)
	}
	want := regexp.MustCompile(`(?m)^gateway\s+built-in\s+` + regexp.QuoteMeta(gateway.Version) + `(\s|$)`)
	if !want.MatchString(r.stdout) {
		t.Errorf("plugins does not list gateway as built-in with version %s\n%s", gateway.Version, r)
	}
}

// TestVersionCommand: `tokenhost version` names the plugin protocol.
func TestVersionCommand(t *testing.T) {
	r := tokenhost(t, "", nil, "version")
	if r.code != 0 {
		t.Fatalf("version failed\n%s", r)
	}
	if !strings.Contains(r.stdout, "plugin protocol 1") {
		t.Errorf("version does not print %q\n%s", "plugin protocol 1", r)
	}
	if !strings.HasPrefix(r.stdout, "tokenhost ") {
		t.Errorf("version output does not start with the program name\n%s", r)
	}
}
