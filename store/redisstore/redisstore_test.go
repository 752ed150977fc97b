package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenhost/tokenhost/internal/redistest"
	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/redisstore"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// open opens a sealed redis store on srv with keys, a fresh prefix per test, and closes it at cleanup.
func open(t testing.TB, url, prefix, keys string, op time.Duration) store.Store {
	t.Helper()
	s, err := store.Open(store.Config{Backend: "redis", URL: url, KeyPrefix: prefix, Keys: keys, OpTimeout: op, DialTimeout: op})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newKey(t testing.TB) string {
	t.Helper()
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRedisStoreConformance(t *testing.T) {
	srv := redistest.Start(t)
	key := newKey(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		return open(t, srv.URL(), fmt.Sprintf("t%d:", n), key, 2*time.Second)
	})
}

// TestRedisSealing runs the sealing tests with hosts sharing one Redis; the raw store is the backend
// without sealing, as someone with access to Redis but not the key sees it.
func TestRedisSealing(t *testing.T) {
	srv := redistest.Start(t)
	n := 0
	storetest.RunSealed(t, func(t *testing.T) (store.Store, func(string) store.Store) {
		n++
		prefix := fmt.Sprintf("s%d:", n)
		raw, err := redisstore.Open(store.Config{URL: srv.URL(), KeyPrefix: prefix, OpTimeout: 2 * time.Second, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return raw, func(keys string) store.Store { return open(t, srv.URL(), prefix, keys, 2*time.Second) }
	})
}

// TestRedisClusterConformance runs the suite against a Redis Cluster (one node holding every slot): a lease
// and a value live in different hash slots there, so a write fenced with a lease checks the lease apart
// from its compare-and-set (one script over both keys is refused with CROSSSLOT).
func TestRedisClusterConformance(t *testing.T) {
	srv := redistest.StartCluster(t)
	key := newKey(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		return open(t, srv.URL()+"?cluster=true", fmt.Sprintf("t%d:", n), key, 2*time.Second)
	})
}

func TestRedisHoldsNothingInClear(t *testing.T) {
	srv := redistest.Start(t)
	ctx := storetest.Ctx(t)
	s := open(t, srv.URL(), "th:", newKey(t), 2*time.Second)
	const secret = "SECRET-ACCESS-TOKEN-abc123"
	if err := s.Set(ctx, "codex/access-token/alice@example.com", []byte(secret), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Acquire(ctx, "codex/refresh", time.Minute); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil || len(keys) < 3 {
		t.Fatalf("KEYS * = %v, %v; want the value, the lease and its fence", keys, err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "th:") || !strings.Contains(k, "codex:") || strings.Contains(k, "alice") || strings.Contains(k, "access") || strings.Contains(k, "refresh") {
			t.Errorf("key %q reveals more than the provider name", k)
		}
		v, err := raw.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(v, secret) {
			t.Errorf("the value of %s holds the token in clear", k)
		}
	}
}

// TestRedisKeyRotationAndWrongKey: a rotated host reads the state stored under the old key; once it has
// moved the state, a host without the new key (which finds the tombstone sealed with it) and a host with
// a wrong key (which finds nothing under its names) say which key they lack rather than take the store
// for empty.
func TestRedisKeyRotationAndWrongKey(t *testing.T) {
	srv := redistest.Start(t)
	ctx := storetest.Ctx(t)
	const key = "gateway/plugin/state"
	oldKey, newKeyText := newKey(t), newKey(t)
	before := open(t, srv.URL(), "th:", oldKey, 2*time.Second)
	if err := before.Set(ctx, key, []byte("v-old"), 0); err != nil {
		t.Fatal(err)
	}
	rotated := open(t, srv.URL(), "th:", newKeyText+","+oldKey, 2*time.Second)
	if it, err := rotated.Get(ctx, key); err != nil || string(it.Value) != "v-old" {
		t.Fatalf("rotated keyring reading a value sealed under the old key = %q, %v", it.Value, err)
	}
	if err := rotated.Set(ctx, key, []byte("v-new"), 0); err != nil {
		t.Fatal(err)
	}
	kr, _ := seal.ParseKeys(newKeyText)
	stranger := open(t, srv.URL(), "th:", newKey(t), 2*time.Second)
	for who, s := range map[string]store.Store{"a host without the new key": before, "a host with a wrong key": stranger} {
		_, err := s.Get(ctx, key)
		if !errors.Is(err, seal.ErrWrongKey) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), kr.Current()) || !strings.Contains(err.Error(), "give this host the fleet's keys") {
			t.Fatalf("%s reading the moved state = %v; want ErrWrongKey naming the key, the key id and what to do", who, err)
		}
	}
}

// TestRedisDownIsABoundedError kills Redis under an open store: every call fails with ErrUnavailable
// (none hangs; the test's deadline would catch it), and the store works again once Redis is back.
func TestRedisDownIsABoundedError(t *testing.T) {
	srv := redistest.Start(t)
	ctx := storetest.Ctx(t)
	s := open(t, srv.URL(), "th:", newKey(t), 200*time.Millisecond)
	if err := s.Set(ctx, "p/k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	calls := map[string]func() error{
		"Get":     func() error { _, err := s.Get(ctx, "p/k"); return err },
		"Set":     func() error { return s.Set(ctx, "p/k", []byte("v"), 0) },
		"CAS":     func() error { _, err := s.CompareAndSet(ctx, "p/k", "", []byte("v"), 0); return err },
		"Delete":  func() error { return s.Delete(ctx, "p/k") },
		"Acquire": func() error { _, _, err := s.Acquire(ctx, "p/k", time.Second); return err },
		"Wait":    func() error { _, err := s.Wait(ctx, "p/k", "x"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis down = %v; want ErrUnavailable", name, err)
		}
	}
	srv.Restart(t)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.Set(ctx, "p/k", []byte("back"), 0) != nil {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("the store did not rejoin Redis after it came back")
		}
	}
}

// TestRedisSilentServerIsABoundedError points the store at a server that accepts connections and never
// answers (a hung Redis): calls fail with ErrUnavailable under the operation timeout.
func TestRedisSilentServerIsABoundedError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s := open(t, "redis://"+ln.Addr().String(), "th:", newKey(t), 100*time.Millisecond)
	ctx := storetest.Ctx(t)
	if _, err := s.Get(ctx, "p/k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get against a silent server = %v; want ErrUnavailable", err)
	}
	if _, _, err := s.Acquire(ctx, "p/k", time.Second); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Acquire against a silent server = %v; want ErrUnavailable", err)
	}
}

func TestRedisURLErrorsHideThePassword(t *testing.T) {
	for _, u := range []string{"http://h:1", "redis://user:hunter2@h:1/notadb", "redis://user:hunter2@h:1?bogus=1"} {
		_, err := store.Open(store.Config{Backend: "redis", URL: u, Keys: newKey(t)})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(url %d) = %v; want an error without the password", len(u), err)
		}
	}
}

// helperEnv makes the test binary a lease-holding child process (see TestMain).
const helperEnv = "REDISSTORE_TEST_HOLD_LEASE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		holdLease(spec)
		return
	}
	os.Exit(m.Run())
}

// holdLease is the child process: it tries the lease once, prints "ok <fence>" or "held", and then holds
// it until killed.
func holdLease(spec string) {
	url, keys, _ := strings.Cut(spec, " ")
	s, err := store.Open(store.Config{Backend: "redis", URL: url, KeyPrefix: "th:", Keys: keys, OpTimeout: 2 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	l, ok, err := s.Acquire(context.Background(), "codex/refresh", 2*time.Second)
	switch {
	case err != nil:
		fmt.Println("error", err)
	case ok:
		fmt.Println("ok", l.Fence)
	default:
		fmt.Println("held")
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until killed
}

// TestRedisLeaseAcrossProcesses starts two processes that race for one lease: exactly one gets it; when
// both die (kill -9, no release), the lease comes free when it runs out and the next holder gets a larger
// fencing value.
func TestRedisLeaseAcrossProcesses(t *testing.T) {
	srv := redistest.Start(t)
	key := newKey(t)
	var lines []string
	var children []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+srv.URL()+" "+key)
		stdin, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); stdin.Close() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	var winner int64
	oks := 0
	for _, l := range lines {
		if f, ok := strings.CutPrefix(l, "ok "); ok {
			oks++
			winner, _ = strconv.ParseInt(f, 10, 64)
		} else if l != "held" {
			t.Fatalf("child said %q", l)
		}
	}
	if oks != 1 {
		t.Fatalf("children said %q; want exactly one ok", lines)
	}
	s := open(t, srv.URL(), "th:", key, 2*time.Second)
	for _, c := range children {
		_ = c.Process.Kill() // kill -9 while holding: the lease is never released
	}
	next := storetest.AcquireEventually(t, s, "codex/refresh", time.Minute)
	if next.Fence <= winner {
		t.Fatalf("fence after the dead holder's lease ran out = %d, want > %d", next.Fence, winner)
	}
}
