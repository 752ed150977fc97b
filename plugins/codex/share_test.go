package codex

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// busy reports whether another open file description holds a lock on path.
func busy(t *testing.T, path string) bool {
	t.Helper()
	lk := flock.New(path)
	ok, err := lk.TryLock()
	if err != nil {
		t.Errorf("probing %s: %v", filepath.Base(path), err)
		return false
	}
	if ok {
		_ = lk.Unlock()
	}
	return !ok
}

// While the plugin's request is at the token endpoint, neither of the Codex CLI's locks is held (the CLI
// would wait on them, and give up after 5 s), and tokenhost's own lock is (other tokenhost processes wait
// on that one instead of redeeming the same refresh token).
func TestNoCodexLockAcrossTheRequest(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	target, _ := url.Parse(e.idp.URL())
	fwd := httputil.NewSingleHostReverseProxy(target)
	var requests, codexBusy, ownFree atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if busy(t, filepath.Join(e.dir, codexDirLock)) || busy(t, e.path+".lock") {
			codexBusy.Add(1)
		}
		if !busy(t, e.path+ownLockSuffix) {
			ownFree.Add(1)
		}
		fwd.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	tok, err := e.source(map[string]any{"token_url": front.URL + fakes.CodexTokenPath}).Token(t.Context())
	if err != nil || !e.idp.Valid(tok.Value) {
		t.Fatalf("Token: %v", err)
	}
	if requests.Load() != 1 || codexBusy.Load() != 0 || ownFree.Load() != 0 {
		t.Errorf("%d requests; during %d a Codex lock was held, during %d tokenhost's own was free; want 1, 0, 0",
			requests.Load(), codexBusy.Load(), ownFree.Load())
	}
	if e.tokens()["access_token"] != tok.Value {
		t.Error("auth.json does not hold the refreshed token")
	}
}

// The write-back takes the Codex CLI's locks in its order: while the CLI holds auth.lock (it is writing),
// auth.json is not touched; once it lets go, the refreshed tokens are written.
func TestWriteWaitsForTheCodexDirectoryLock(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	before, _ := os.ReadFile(e.path)
	cli := flock.New(filepath.Join(e.dir, codexDirLock))
	if err := cli.Lock(); err != nil {
		t.Fatal(err)
	}
	src := e.source(nil)
	type res struct {
		tok sdk.Token
		err error
	}
	done := make(chan res, 1)
	go func() {
		tok, err := src.Token(context.Background())
		done <- res{tok, err}
	}()
	if err := e.idp.WaitDecided(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if during, _ := os.ReadFile(e.path); string(during) != string(before) {
		t.Error("auth.json was written while the Codex CLI held auth.lock")
	}
	if err := cli.Unlock(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !e.idp.Valid(r.tok.Value) || e.tokens()["access_token"] != r.tok.Value {
		t.Fatalf("after auth.lock was released: err %v; the file holds the new token: %v", r.err, e.tokens()["access_token"] == r.tok.Value)
	}
}

// A Codex lock that stays busy for all of lock_timeout does not lose the refreshed tokens: they are served
// from memory, and written once the lock is free.
func TestCodexLockBusyKeepsTokensUnsaved(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	before, _ := os.ReadFile(e.path)
	cli := flock.New(e.path + ".lock")
	if err := cli.Lock(); err != nil {
		t.Fatal(err)
	}
	src := e.source(map[string]any{"lock_timeout": "50ms"})
	tok, err := src.Token(t.Context())
	if err != nil || !e.idp.Valid(tok.Value) {
		t.Fatalf("the endpoint answered, so the caller gets the token: %v", err)
	}
	if after, _ := os.ReadFile(e.path); string(after) != string(before) {
		t.Error("auth.json was written while auth.json.lock was held")
	}
	if err := cli.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := src.Token(t.Context())
	if err != nil || again.Value != tok.Value || e.idp.Refreshes() != 1 {
		t.Fatalf("next call: err %v, same token %v, %d refreshes", err, again.Value == tok.Value, e.idp.Refreshes())
	}
	rt, _ := e.tokens()["refresh_token"].(string)
	if e.tokens()["access_token"] != tok.Value || !e.idp.Live(rt) {
		t.Error("the unsaved tokens were not written once the lock was free")
	}
}

// invalid_grant, like refresh_token_reused, may mean another program redeemed the refresh token first and
// has not written its answer yet: the plugin re-reads the file and uses what that program stored.
func TestInvalidGrantWaitsForTheOtherWriter(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	url, n := scripted(t, 400, "application/json", `{"error":"invalid_grant"}`)
	src := e.source(map[string]any{"token_url": url})
	fresh := e.idp.Issue()
	var misses atomic.Int32
	atPoints(src, map[string]func(){pointRereadMiss: func() {
		if misses.Add(1) == 2 { // written only after two looks found nothing
			if err := fakes.WriteCodexAuth(e.path, fresh.AccessToken, fresh.RefreshToken, fresh.IDToken, e.idp.AccountID(), nil); err != nil {
				t.Error(err)
			}
		}
	}})
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != fresh.AccessToken || n.Load() != 1 {
		t.Fatalf("err %v, the other writer's token %v, %d requests; want it after 1 request", err, tok.Value == fresh.AccessToken, n.Load())
	}
}

// BenchmarkCodexLockHold measures how long the plugin holds the Codex CLI's locks to store refreshed
// tokens: take both locks, re-read auth.json, write it atomically (with fsync), release.
func BenchmarkCodexLockHold(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "auth.json")
	access := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
	if err := fakes.WriteCodexAuth(path, access, "rt-0", "", "acct", map[string]any{"agent_identity": map[string]any{"id": "x"}}); err != nil {
		b.Fatal(err)
	}
	src := newSource()
	if _, err := src.Configure(b.Context(), map[string]any{"auth_file": path, "token_url": "http://127.0.0.1:1/oauth/token"}); err != nil {
		b.Fatal(err)
	}
	cfg, _ := src.config()
	a, err := readAuth(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		src.pending.Keep(unsaved{at: time.Now(), auth: a}, a.refreshToken)
		unlock, err := lockCodex(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := src.pending.Flush(b.Context(), path, authMark, encodeUnsaved, nil); err != nil || res != credfile.Written {
			b.Fatalf("flush: %v %v", res, err)
		}
		unlock()
	}
}
