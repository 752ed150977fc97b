// Package sdktest is a conformance suite for tokenhost plugins: it checks that an sdk.Source behaves as the
// host expects (typed configuration errors, usable tokens, a Refresh that really refreshes, safety under
// concurrency, prompt cancellation, no secrets in error messages), and that a RejectionAware Source's
// RefreshRejected really refreshes.
//
// A plugin author runs it from an ordinary test of their own, pointing the Source at a local fake of the
// identity system it talks to:
//
//	func TestConformance(t *testing.T) {
//		idp := startFakeIdP(t) // anything that issues a different token on each request
//		sdktest.Run(t, sdktest.Suite{
//			New:     func() sdk.Source { return myplugin.New() },
//			Options: map[string]any{"token_url": idp.URL, "client_id": "app", "client_secret": "s3cret-value"},
//			BadOptions: map[string]map[string]any{
//				"missing token_url": {"client_id": "app", "client_secret": "s3cret-value"},
//				"unknown option":    {"token_url": idp.URL, "client_id": "app", "client_secret": "s3cret-value", "tokn_url": "x"},
//			},
//		})
//	}
//
// Give every bad option set its secrets (values of 8 characters or more under keys sdk.IsSecretKey
// accepts): the NoSecretInErrors subtest then proves that no Configure error repeats them. The suite never
// prints a token or a secret; a failure names values by sdk.Fingerprint.
//
// Run does not assume that an empty options block is wrong (many plugins have defaults for everything);
// list it in BadOptions when it is.
package sdktest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// Concurrency is how many goroutines the ConcurrentToken subtest runs at once.
const Concurrency = 50

// HangGuard is how long a call may take before the suite calls it a hang; it is a guard, not a deadline
// the plugin is expected to approach.
const HangGuard = 10 * time.Second

// callTimeout bounds each plugin call the suite makes with a live context.
const callTimeout = 60 * time.Second

// Suite describes the plugin under test.
type Suite struct {
	// New returns a fresh, unconfigured Source.
	New func() sdk.Source
	// Options must configure a Source successfully and let it yield tokens.
	Options map[string]any
	// BadOptions are named option sets that must each make Configure fail with sdk.KindBadConfig.
	BadOptions map[string]map[string]any
}

// Run runs the conformance subtests against s.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.New == nil {
		t.Fatal("sdktest: Suite.New is nil")
	}
	t.Run("BadConfig", func(t *testing.T) { testBadConfig(t, s) })
	t.Run("Token", func(t *testing.T) { testToken(t, s) })
	t.Run("RefreshDiffers", func(t *testing.T) { testRefreshDiffers(t, s) })
	t.Run("RefreshRejectedDiffers", func(t *testing.T) { testRefreshRejectedDiffers(t, s) })
	t.Run("ConcurrentToken", func(t *testing.T) { testConcurrentToken(t, s) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelledContext(t, s) })
	t.Run("NoSecretInErrors", func(t *testing.T) { testNoSecretInErrors(t, s) })
}

func testBadConfig(t *testing.T, s Suite) {
	if len(s.BadOptions) == 0 {
		t.Skip("Suite.BadOptions is empty")
	}
	for _, name := range sortedNames(s.BadOptions) {
		t.Run(name, func(t *testing.T) {
			err := configureBad(t, s, s.BadOptions[name])
			if err == nil {
				t.Fatalf("Configure succeeded; want an error of kind %s", sdk.KindBadConfig)
			}
			if k := sdk.KindOf(err); k != sdk.KindBadConfig {
				t.Fatalf("Configure error has kind %s, want %s: %s", k, sdk.KindBadConfig, safe(err, s.BadOptions[name]))
			}
		})
	}
}

func testToken(t *testing.T, s Suite) {
	src, info := configured(t, s)
	if info.Name == "" {
		t.Error("Configure returned an Info without a Name")
	}
	ctx := callContext(t)
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %s", safe(err, s.Options))
	}
	checkToken(t, "Token", tok)
}

func testRefreshDiffers(t *testing.T, s Suite) {
	src, _ := configured(t, s)
	ctx := callContext(t)
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %s", safe(err, s.Options))
	}
	checkToken(t, "Token", first)
	second, err := src.Refresh(ctx, first)
	if err != nil {
		t.Fatalf("Refresh: %s", safe(err, s.Options))
	}
	checkToken(t, "Refresh", second)
	if second.Value == first.Value {
		t.Fatalf("Refresh returned the token it was asked to replace (%s); it must bypass every cache and return a different token", sdk.Fingerprint(first.Value))
	}
}

// testRefreshRejectedDiffers holds a RejectionAware Source to what testRefreshDiffers holds Refresh to,
// for a plain 401 with a Bearer challenge.
func testRefreshRejectedDiffers(t *testing.T, s Suite) {
	src, _ := configured(t, s)
	ra, ok := src.(sdk.RejectionAware)
	if !ok {
		t.Skip("the Source does not implement sdk.RejectionAware")
	}
	ctx := callContext(t)
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %s", safe(err, s.Options))
	}
	second, err := ra.RefreshRejected(ctx, first, sdk.NewRejection(401, []string{`Bearer error="invalid_token"`}))
	if err != nil {
		t.Fatalf("RefreshRejected: %s", safe(err, s.Options))
	}
	checkToken(t, "RefreshRejected", second)
	if second.Value == first.Value {
		t.Fatalf("RefreshRejected returned the token it was asked to replace (%s)", sdk.Fingerprint(first.Value))
	}
}

func testConcurrentToken(t *testing.T, s Suite) {
	src, _ := configured(t, s)
	ctx := callContext(t)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		empty  int
		start  = make(chan struct{})
		called = 0
	)
	for range Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := src.Token(ctx)
			mu.Lock()
			defer mu.Unlock()
			called++
			switch {
			case err != nil:
				errs = append(errs, err)
			case tok.Value == "":
				empty++
			}
		}()
	}
	close(start)
	wg.Wait()
	if called != Concurrency {
		t.Fatalf("%d of %d calls returned", called, Concurrency)
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d concurrent Token calls failed; first: %s", len(errs), Concurrency, safe(errs[0], s.Options))
	}
	if empty > 0 {
		t.Errorf("%d of %d concurrent Token calls returned an empty token without an error", empty, Concurrency)
	}
}

func testCancelledContext(t *testing.T, s Suite) {
	src, _ := configured(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	type result struct {
		tok sdk.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := src.Token(ctx)
		done <- result{tok, err}
	}()
	guard := time.NewTimer(HangGuard)
	defer guard.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatalf("Token with a cancelled context succeeded (%s); it must return an error", sdk.Fingerprint(r.tok.Value))
		}
	case <-guard.C:
		t.Fatalf("Token with a cancelled context did not return within %s", HangGuard)
	}
}

func testNoSecretInErrors(t *testing.T, s Suite) {
	if len(s.BadOptions) == 0 {
		t.Skip("Suite.BadOptions is empty")
	}
	checked := 0
	for _, name := range sortedNames(s.BadOptions) {
		opts := s.BadOptions[name]
		secrets := map[string]string{} // value -> option path
		collectSecrets(opts, "", false, 8, secrets)
		if len(secrets) == 0 {
			continue
		}
		err := configureBad(t, s, opts)
		if err == nil {
			continue // reported by BadConfig
		}
		msg := err.Error()
		for _, v := range sortedNames(secrets) {
			checked++
			if strings.Contains(msg, v) {
				t.Errorf("%s: the Configure error repeats the value of secret option %s (%s)", name, secrets[v], sdk.Fingerprint(v))
			}
		}
	}
	if checked == 0 {
		t.Skip("no bad option set holds a secret value of 8 characters or more")
	}
}

// safe returns err's message with the secret values of opts replaced by their fingerprints, for test output.
func safe(err error, opts map[string]any) string {
	secrets := map[string]string{}
	collectSecrets(opts, "", false, 4, secrets)
	values := sortedNames(secrets)
	sort.SliceStable(values, func(i, j int) bool { return len(values[i]) > len(values[j]) }) // longest first
	return sdk.RedactString(err.Error(), values...)
}

// collectSecrets gathers every string of at least minLen characters under a key sdk.IsSecretKey accepts,
// looking into nested mappings and lists.
func collectSecrets(v any, path string, secret bool, minLen int, out map[string]string) {
	switch t := v.(type) {
	case string:
		if secret && len(t) >= minLen {
			out[t] = path
		}
	case map[string]any:
		for k, e := range t {
			collectSecrets(e, joinPath(path, k), secret || sdk.IsSecretKey(k), minLen, out)
		}
	case map[string]string:
		for k, e := range t {
			collectSecrets(e, joinPath(path, k), secret || sdk.IsSecretKey(k), minLen, out)
		}
	case []any:
		for i, e := range t {
			collectSecrets(e, fmt.Sprintf("%s[%d]", path, i), secret, minLen, out)
		}
	case []string:
		for i, e := range t {
			collectSecrets(e, fmt.Sprintf("%s[%d]", path, i), secret, minLen, out)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// configured returns a fresh Source configured with s.Options.
func configured(t *testing.T, s Suite) (sdk.Source, sdk.Info) {
	t.Helper()
	src := s.New()
	if src == nil {
		t.Fatal("Suite.New returned nil")
	}
	info, err := src.Configure(callContext(t), copyOptions(s.Options))
	if err != nil {
		t.Fatalf("Configure with Suite.Options: %s", safe(err, s.Options))
	}
	return src, info
}

// configureBad configures a fresh Source with opts and returns the error.
func configureBad(t *testing.T, s Suite, opts map[string]any) error {
	t.Helper()
	src := s.New()
	if src == nil {
		t.Fatal("Suite.New returned nil")
	}
	_, err := src.Configure(callContext(t), copyOptions(opts))
	return err
}

// callContext returns a context that ends with the test or after callTimeout.
func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// checkToken reports a token the host could not use.
func checkToken(t *testing.T, what string, tok sdk.Token) {
	t.Helper()
	if tok.Value == "" {
		t.Fatalf("%s returned an empty token without an error", what)
	}
	// An empty Type is read as Bearer, so any Type is acceptable here.
	if !tok.Expiry.IsZero() && !tok.Expiry.After(time.Now()) {
		t.Errorf("%s returned a token that expired at %s", what, tok.Expiry.Format(time.RFC3339))
	}
}

// copyOptions returns a deep copy of opts so a plugin cannot alter the suite's option sets.
func copyOptions(opts map[string]any) map[string]any {
	if opts == nil {
		return map[string]any{}
	}
	return deepCopy(opts).(map[string]any)
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
