package gemini

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
)

func TestStatic(t *testing.T) {
	isolate(t)
	const static = "ya29.static-token-value"
	src := configure(t, map[string]any{"source": SourceStatic, "token": static, "quota_project": "static-quota"})
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != static || !tok.Expiry.IsZero() || tok.Headers["x-goog-user-project"] != "static-quota" {
		t.Fatalf("Token = %s, %v, expiry %s, headers %v", sdk.Fingerprint(tok.Value), err, tok.Expiry, tok.Headers)
	}
	_, err = src.Refresh(t.Context(), tok)
	wantKind(t, err, sdk.KindReauthRequired)
	if !strings.Contains(err.Error(), "cannot be refreshed") {
		t.Errorf("error %q does not explain that a static token cannot be refreshed", err)
	}
	assertNoSecrets(t, err.Error(), static)

	t.Setenv(EnvStaticToken, "ya29.from-the-environment")
	src = configure(t, map[string]any{"source": SourceStatic})
	if tok, err := src.Token(t.Context()); err != nil || tok.Value != "ya29.from-the-environment" {
		t.Fatalf("static token from %s: %v", EnvStaticToken, err)
	}
}

func TestInfo(t *testing.T) {
	isolate(t)
	src := New()
	info, err := src.Configure(t.Context(), map[string]any{"source": SourceStatic, "token": "ya29.x-static-value", "extra_hosts": []any{"generativelanguage.googleapis.com", "*.corp.googleapis.com", "Aiplatform.googleapis.com"}})
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Info{
		Name: Name, Version: Version, Upstream: "https://cloudcode-pa.googleapis.com",
		AllowedHosts: append(VertexHosts(), "generativelanguage.googleapis.com", "*.corp.googleapis.com"),
		Mode:         "static access token",
		MaxFetch:     DefaultTimeout,
		IdentityFrom: sdk.IdentityEnv(Environment...), // GOOGLE_CLOUD_ACCESS_TOKEN among them
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("Info = %+v, want %+v", info, want)
	}
	info, err = New().Configure(t.Context(), map[string]any{"source": SourceStatic, "token": "ya29.x-static-value"})
	if err != nil || !reflect.DeepEqual(info.AllowedHosts, VertexHosts()) {
		t.Fatalf("AllowedHosts without extra_hosts: %v, %v; want the Vertex AI hosts", info.AllowedHosts, err)
	}
	for _, c := range []struct {
		opts map[string]any
		mode string
	}{
		{map[string]any{"creds_file": "/x/oauth_creds.json"}, "gemini cli sign-in (/x/oauth_creds.json)"},
		{map[string]any{"source": SourceServiceAccount, "adc_file": "/x/sa.json"}, "service account (/x/sa.json)"},
		{map[string]any{"adc_file": "/x/adc.json"}, "application default credentials (/x/adc.json)"},
		{map[string]any{"source": SourceMetadata}, "GCE metadata server (default service account)"},
	} {
		info, err := New().Configure(t.Context(), c.opts)
		if err != nil || info.Mode != c.mode {
			t.Errorf("Configure(%v): Mode %q, %v; want %q", c.opts, info.Mode, err, c.mode)
		}
	}
}

// TestPathOptionsExpandTheOwnHomeOnly: creds_file and adc_file follow the one ~ rule: ~/… is the home
// directory, ~user/… is refused with a message saying so (it is not a relative path named "~user").
func TestPathOptionsExpandTheOwnHomeOnly(t *testing.T) {
	isolate(t)
	info, err := New().Configure(t.Context(), map[string]any{"creds_file": "~/g/oauth_creds.json"})
	// Mode shows a path under the home directory as ~/…; an unexpanded ~ would be under the working directory.
	if want := "(" + filepath.Join("~", "g", "oauth_creds.json") + ")"; err != nil || !strings.HasSuffix(info.Mode, want) {
		t.Errorf("creds_file ~/g/oauth_creds.json: Mode %q, %v; want %s", info.Mode, err, want)
	}
	for _, key := range []string{"creds_file", "adc_file"} {
		opts := map[string]any{key: "~bob/creds.json"}
		if key == "adc_file" {
			opts["source"] = SourceADC
		}
		_, err := New().Configure(t.Context(), opts)
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != key || !strings.Contains(err.Error(), "only a leading ~/ is expanded, not ~bob") {
			t.Errorf("%s ~bob/creds.json: %v; want BadConfig saying ~bob is not expanded", key, err)
		}
	}
}

func TestTokenBeforeConfigure(t *testing.T) {
	_, err := New().Token(t.Context())
	wantKind(t, err, sdk.KindInternal)
}

// helperEnv marks the test binary re-executed as a helper process by TestTwoProcessesRefreshOnce.
const helperEnv = "GEMINI_PLUGIN_TEST_HELPER"

// TestHelperProcess is not a test: TestTwoProcessesRefreshOnce runs the test binary with it as a separate
// process that configures the plugin from the environment and fetches one token.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestTwoProcessesRefreshOnce")
	}
	src := New().(*source)
	src.probe.locking = func() { fmt.Println("locking") }
	opts := map[string]any{
		"source": SourceGeminiCLI, "creds_file": os.Getenv("HELPER_CREDS"), "token_url": os.Getenv("HELPER_TOKEN_URL"),
		"client_id": testClientID, "client_secret": testClientSecret,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := src.Configure(ctx, opts); err != nil {
		fmt.Println("error", sdk.KindOf(err))
		os.Exit(2)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		fmt.Println("error", sdk.KindOf(err))
		os.Exit(3)
	}
	fmt.Println("token", sdk.Fingerprint(tok.Value))
	os.Exit(0)
}

func TestTwoProcessesRefreshOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, nil)
	release := g.Hold()
	defer release()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	type proc struct {
		cmd   *exec.Cmd
		lines chan string
	}
	var procs []*proc
	var wg sync.WaitGroup
	for range 2 {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "HELPER_CREDS="+path, "HELPER_TOKEN_URL="+g.TokenURL())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: cmd, lines: make(chan string, 16)}
		procs = append(procs, p)
		wg.Add(1)
		go func(r io.Reader) {
			defer wg.Done()
			defer close(p.lines)
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
		}(out)
	}
	next := func(p *proc) string {
		select {
		case l := <-p.lines:
			return l
		case <-ctx.Done():
			t.Fatal("a helper process did not answer")
		}
		return ""
	}
	// Both processes reach the lock while one refresh is held at the endpoint: they overlap.
	for _, p := range procs {
		if l := next(p); l != "locking" {
			t.Fatalf("helper said %q, want locking", l)
		}
	}
	if err := g.WaitHeld(ctx, 1); err != nil {
		t.Fatal("no refresh reached the endpoint")
	}
	release()
	var got []string
	for _, p := range procs {
		l := next(p)
		if !strings.HasPrefix(l, "token ") {
			t.Fatalf("helper said %q, want a token", l)
		}
		got = append(got, l)
	}
	wg.Wait()
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	if n := g.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes reached the endpoint from two processes, want 1", n)
	}
	if got[0] != got[1] {
		t.Fatalf("the processes got different tokens: %v", got)
	}
}
