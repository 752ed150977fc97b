package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
)

// demoTokenLife is how long the fake identity providers' tokens live in the demo, so that expiry and
// refresh-ahead both happen within seconds.
const demoTokenLife = 3 * time.Second

// scenario is one provider in the demo: its loopback fakes, its config block, and how to call it.
type scenario struct {
	name, plugin string
	yaml         string             // the provider's block under providers:
	env          []string           // environment the config's *_env keys read
	path         string             // request path under the upstream
	revoke       func()             // revoke every token issued so far
	issued       func() int64       // tokens the fake identity provider issued
	close        func()             // stop the fakes
	requests     atomic.Int64       // requests the demo sent
	failed       atomic.Int64       // requests that did not end 200
	upstream     string             // the fake upstream's base URL
	extra        map[string]string  // headers the demo request sets
	body         func(i int) []byte // the i-th request's JSON body; nil means a chat completion
	setup        func() error       // prepares files the plugin reads (after the fakes start), or nil
	login        bool               // sign in with `tokenhost login` once the host is open
	group        bool               // a group: yaml is its block under groups:, providers its members' blocks
	providers    string             // a group's member providers, as lines under providers:
	members      []string           // a group's member providers' names
}

// gatewayScenario is a corporate gateway behind an OAuth client-credentials token endpoint.
func gatewayScenario() *scenario {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "demo-client", ClientSecret: "demo-secret-not-real", ExpiresIn: demoTokenLife})
	up := fakes.NewUpstream(idp.Valid)
	return &scenario{
		name: "corp", plugin: "gateway", path: "/chat/completions", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: gateway
    upstream: %s
    refresh_before: 1s
    options:
      grant: client_credentials
      token_url: %s
      client_id: demo-client
      client_secret_env: DEMO_CORP_SECRET
      scopes: [llm.invoke]
`, up.URL(), idp.TokenURL()),
		env:    []string{"DEMO_CORP_SECRET=demo-secret-not-real"},
		revoke: idp.RevokeAll, issued: idp.Issued,
		close: func() { up.Close(); idp.Close() },
	}
}

// demoScenarios lists every provider the demo runs; each plugin adds its own.
func demoScenarios() []*scenario {
	return []*scenario{gatewayScenario(), gatewayDeviceScenario(), gatewayExchangeScenario(), gatewayJWTScenario(),
		gatewayStaticScenario(), codexScenario(), geminiScenario(), azureScenario(), groupScenario()}
}

func newDemoCmd(g *globals) *cobra.Command {
	var serve bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system offline against loopback fakes and print what happened",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ok, err := runDemo(cmd.Context(), g, serve)
			if err != nil {
				return err
			}
			if !ok {
				return exitCode(1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&serve, "serve", false, "serve the proxy and its status page on a loopback port while the demo runs, and print the page's URL")
	return cmd
}

// runDemo runs every scenario through one host and reports; it returns true when every request ended 200.
// With serve, the proxy and its status page run on a loopback port meanwhile.
func runDemo(ctx context.Context, g *globals, serve bool) (bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	scs := demoScenarios()
	defer func() {
		for _, s := range scs {
			s.close()
		}
	}()
	yaml, groups := "providers:\n", ""
	var env []string
	for _, s := range scs {
		if s.setup != nil {
			if err := s.setup(); err != nil {
				return false, fmt.Errorf("demo %s: %w", s.name, err)
			}
		}
		if s.group {
			yaml += s.providers
			groups += "  " + s.name + ":" + s.yaml
		} else {
			yaml += "  " + s.name + ":" + s.yaml
		}
		env = append(env, s.env...)
	}
	if groups != "" {
		yaml += "groups:\n" + groups
	}
	cfg, err := config.Parse([]byte(yaml), "demo configuration", config.Sources{Environ: env, Builtins: core.Builtins()})
	if err != nil {
		return false, fmt.Errorf("demo configuration: %w", err)
	}
	h, err := core.Open(ctx, core.Options{Config: cfg, Logger: g.logger()})
	if err != nil {
		return false, err
	}
	defer h.Close()

	out := g.stdout
	fmt.Fprintf(out, "tokenhost demo: %d provider(s), real plugin processes, loopback fakes; tokens live %s\n\n", len(scs), demoTokenLife)
	if serve {
		stop, err := serveDuringDemo(h, out)
		if err != nil {
			return false, err
		}
		defer stop()
	}
	for _, s := range scs {
		if s.login {
			if err := demoLogin(ctx, h, s, out); err != nil {
				return false, fmt.Errorf("demo %s: %w", s.name, err)
			}
		}
	}
	clients := map[string]*http.Client{}
	for _, s := range scs {
		c, err := h.Client(s.name)
		if err != nil {
			return false, err
		}
		clients[s.name] = c
	}
	burst := func(what string, n int) {
		start := time.Now()
		var wg sync.WaitGroup
		for _, s := range scs {
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.send(ctx, clients[s.name], i)
				}()
			}
		}
		wg.Wait()
		fmt.Fprintf(out, "  %-58s %4d requests/provider in %s\n", what, n, time.Since(start).Round(time.Millisecond))
	}

	stopWatch := make(chan struct{})
	cooldowns := watchCooldowns(h, stopWatch)
	burst("1. cold start: concurrent callers share one token fetch", 50)
	for _, s := range scs {
		s.revoke()
	}
	burst("2. every token revoked: 401 → one refresh → one resend", 50)
	for i := range 6 {
		burst(fmt.Sprintf("3.%d steady traffic across refresh-ahead (%s)", i+1, demoTokenLife/3), 20)
		sleepCtx(ctx, demoTokenLife/3)
	}
	sleepCtx(ctx, demoTokenLife+demoTokenLife/3)
	burst("4. idle past expiry: callers wait on one fetch", 50)
	for _, s := range scs {
		s.revoke()
	}
	burst("5. revoked again mid-run", 50)
	close(stopWatch)

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tPLUGIN\tREQUESTS\t401s SEEN\tREFRESHES\tRETRIES\tFAILURES\tTOKENS ISSUED\tSTATUS\t")
	allOK := true
	status := map[string]core.Status{}
	for _, st := range h.Status() {
		status[st.Name] = st
	}
	for _, s := range scs {
		st := status[s.name].Stats
		for _, m := range s.members { // a group's row adds up its members' wrappers
			ms := status[m].Stats
			st.Rejected, st.Refreshes, st.Retries = st.Rejected+ms.Rejected, st.Refreshes+ms.Refreshes, st.Retries+ms.Retries
		}
		result := "ok"
		if s.failed.Load() > 0 {
			result, allOK = "FAILED", false
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", s.name, s.plugin, s.requests.Load(), st.Rejected, st.Refreshes,
			st.Retries, s.failed.Load(), s.issued(), result)
	}
	tw.Flush()
	fmt.Fprintln(out)
	for _, l := range groupLines(h, <-cooldowns) {
		fmt.Fprintln(out, l)
	}
	if allOK {
		fmt.Fprintln(out, "\nevery request ended 200: each provider recovered from expiry and revocation without failing a caller")
	} else {
		fmt.Fprintln(out, "\nsome requests failed: run with --log-level debug to see why")
	}
	return allOK, nil
}

// send posts one chat completion and records its outcome.
func (s *scenario) send(ctx context.Context, c *http.Client, i int) {
	s.requests.Add(1)
	var body []byte
	if s.body != nil {
		body = s.body(i)
	} else {
		body, _ = json.Marshal(map[string]any{
			"model":    "demo-model",
			"messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("request %d", i)}},
		})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.upstream+s.path, bytes.NewReader(body))
	if err != nil {
		s.failed.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range s.extra {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		s.failed.Add(1)
		slog.Debug("demo request failed", "provider", s.name, "error", err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.failed.Add(1)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
