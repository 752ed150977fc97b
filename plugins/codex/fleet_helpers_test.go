package codex

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

// fleetSource returns a codex source of one fleet host: storage st, and auth.json at authFile (which need not
// exist: a host without the Codex CLI).
func (e *env) fleetSource(st sdk.Storage, authFile string, extra map[string]any) *source {
	e.t.Helper()
	src := newSource()
	src.UseStorage(st)
	o := e.options(extra)
	o["auth_file"] = authFile
	info, err := src.Configure(e.t.Context(), o)
	if err != nil {
		e.t.Fatalf("Configure: %v", err)
	}
	if !info.UsesStorage {
		e.t.Fatal("Info.UsesStorage is false although storage was offered")
	}
	return src
}

// noFile returns the auth.json path of a host that has none.
func noFile(t *testing.T) string { return filepath.Join(t.TempDir(), "codex-home", "auth.json") }

// writeSignIn writes an auth.json at path holding a fresh sign-in the fake issued, refreshed at lastRefresh,
// with the access token's expiry replaced by exp when exp is not zero; it returns the tokens.
func (e *env) writeSignIn(path string, lastRefresh time.Time, extra map[string]any) fakes.CodexTokens {
	e.t.Helper()
	tok := e.idp.Issue()
	x := map[string]any{"last_refresh": lastRefresh.UTC().Format(time.RFC3339Nano)}
	for k, v := range extra {
		x[k] = v
	}
	if err := fakes.WriteCodexAuth(path, tok.AccessToken, tok.RefreshToken, tok.IDToken, e.idp.AccountID(), x); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// stored returns the fleet's sign-in as storage holds it.
func stored(t *testing.T, st sdk.Storage) *authFile {
	t.Helper()
	v, rev, err := st.Get(context.Background(), fleetKey)
	if err != nil || rev == "" {
		t.Fatalf("storage holds no sign-in (rev %q, err %v)", rev, err)
	}
	a, err := parseStored(v)
	if err != nil {
		t.Fatalf("storage's sign-in does not parse: %v", err)
	}
	return a
}

// fileAt returns the auth.json at path, parsed.
func fileAt(t *testing.T, path string) *authFile {
	t.Helper()
	a, err := readAuth(context.Background(), path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return a
}

// lease stands for the fleet's fetch lease, which the host holds around a plugin's Refresh.
type lease struct{ mu sync.Mutex }

func (l *lease) refresh(ctx context.Context, src *source, stale sdk.Token) (sdk.Token, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return src.Refresh(ctx, stale)
}

// flaky is storage that fails, as an unreachable fleet store does, while down returns true.
type flaky struct {
	*sdktest.Storage
	down func() bool
}

func (f *flaky) fail() error {
	if f.down() {
		return sdk.Unavailable("the fleet's store is down (test)")
	}
	return nil
}

func (f *flaky) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := f.fail(); err != nil {
		return nil, "", err
	}
	return f.Storage.Get(ctx, key)
}

func (f *flaky) CompareAndSet(ctx context.Context, key, rev string, value []byte) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.Storage.CompareAndSet(ctx, key, rev, value)
}

// switched returns a down func that reports on.
func switched(on *atomic.Bool) func() bool { return on.Load }

// mode returns the permission bits of path.
func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// mkdirFor creates the directory of path.
func mkdirFor(path string) error { return os.MkdirAll(filepath.Dir(path), 0o700) }

// pair returns two hosts sharing st, the auth.json host and one without, after the first seeded storage
// and refreshed the file's expired token (t1), and the second replaced t1 (t2).
func (e *env) pair(st sdk.Storage) (a, b *source, t1, t2 sdk.Token) {
	e.t.Helper()
	a, b = e.fleetSource(st, e.path, nil), e.fleetSource(st, noFile(e.t), nil)
	var err error
	if t1, err = a.Token(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	if t2, err = b.Refresh(e.t.Context(), t1); err != nil {
		e.t.Fatal(err)
	}
	return a, b, t1, t2
}
