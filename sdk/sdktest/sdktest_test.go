package sdktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// memSource is a minimal conforming Source: it issues numbered tokens and needs an "endpoint" option.
type memSource struct {
	n   atomic.Int64
	mu  sync.Mutex
	cur sdk.Token
}

func (m *memSource) Configure(_ context.Context, opts map[string]any) (sdk.Info, error) {
	o := sdk.Options(opts)
	if err := o.Unknown("endpoint", "api_key"); err != nil {
		return sdk.Info{}, err
	}
	if ep, err := o.String("endpoint", ""); err != nil {
		return sdk.Info{}, err
	} else if ep == "" {
		return sdk.Info{}, sdk.BadConfig("endpoint", "is required")
	}
	if _, err := o.String("api_key", ""); err != nil {
		return sdk.Info{}, err
	}
	return sdk.Info{Name: "mem", Version: "0"}, nil
}

func (m *memSource) Token(ctx context.Context) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur.Value == "" {
		m.cur = m.issue()
	}
	return m.cur, nil
}

func (m *memSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = m.issue()
	return m.cur, nil
}

func (m *memSource) issue() sdk.Token {
	return sdk.Token{Value: fmt.Sprintf("tok-%d", m.n.Add(1)), Expiry: time.Now().Add(time.Hour)}
}

func TestRunOnConformingSource(t *testing.T) {
	Run(t, Suite{
		New:     func() sdk.Source { return &memSource{} },
		Options: map[string]any{"endpoint": "mem://"},
		BadOptions: map[string]map[string]any{
			"missing endpoint": {"api_key": "k3y-value-long"},
			"unknown option":   {"endpoint": "mem://", "endpont": "x", "api_key": "k3y-value-long"},
			"api_key not text": {"endpoint": "mem://", "api_key": []any{"nested-secret-1"}},
		},
	})
}

func TestCollectSecrets(t *testing.T) {
	opts := map[string]any{
		"client_secret": "long-enough-1",
		"short_token":   "tiny",
		"endpoint":      "https://not-a-secret.example",
		"extra_params":  map[string]any{"client_assertion": "long-enough-2", "tenant": "not-secret-at-all"},
		"secrets":       map[string]any{"anything": "long-enough-3"},
		"private_key":   []any{"long-enough-4"},
	}
	got := map[string]string{}
	collectSecrets(opts, "", false, 8, got)
	want := map[string]string{
		"long-enough-1": "client_secret",
		"long-enough-2": "extra_params.client_assertion",
		"long-enough-3": "secrets.anything",
		"long-enough-4": "private_key[0]",
	}
	if len(got) != len(want) {
		t.Errorf("collected %d values, want %d", len(got), len(want))
	}
	for v, path := range want {
		if got[v] != path {
			t.Errorf("value at %s collected under %q", path, got[v])
		}
	}
}

func TestSafeRedacts(t *testing.T) {
	opts := map[string]any{"client_secret": "abcd-secret", "client_id": "visible-id"}
	msg := safe(errors.New("bad abcd-secret for visible-id"), opts)
	if strings.Contains(msg, "abcd-secret") || !strings.Contains(msg, sdk.Fingerprint("abcd-secret")) || !strings.Contains(msg, "visible-id") {
		t.Errorf("safe did not redact exactly the secret: %q", strings.ReplaceAll(msg, "abcd-secret", "<secret>"))
	}
}

func TestCopyOptionsIsDeep(t *testing.T) {
	orig := map[string]any{"m": map[string]any{"k": "v"}, "l": []any{"a"}}
	c := copyOptions(orig)
	c["m"].(map[string]any)["k"] = "changed"
	c["l"].([]any)[0] = "changed"
	if orig["m"].(map[string]any)["k"] != "v" || orig["l"].([]any)[0] != "a" {
		t.Error("copyOptions shares nested values with the original")
	}
	if copyOptions(nil) == nil {
		t.Error("copyOptions(nil) is nil; Configure should get an empty map")
	}
}

// awareSource is memSource that also implements sdk.RejectionAware.
type awareSource struct {
	memSource
	reasons atomic.Int64
}

func (a *awareSource) RefreshRejected(ctx context.Context, stale sdk.Token, why sdk.Rejection) (sdk.Token, error) {
	if why.Status == 401 {
		a.reasons.Add(1)
	}
	return a.Refresh(ctx, stale)
}

func TestRunReachesRefreshRejected(t *testing.T) {
	var made []*awareSource
	Run(t, Suite{
		New:     func() sdk.Source { a := &awareSource{}; made = append(made, a); return a },
		Options: map[string]any{"endpoint": "mem://"},
	})
	var reasons int64
	for _, a := range made {
		reasons += a.reasons.Load()
	}
	if reasons != 1 {
		t.Fatalf("RefreshRejected saw a 401 reason %d times, want once", reasons)
	}
}
