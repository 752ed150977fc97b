package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// The caller of a helper run is the nearest ancestor that is not a shell, named with its start time; a
// walk that meets init, an unreadable process or too many shells gives no identity.
func TestCallerFrom(t *testing.T) {
	procs := map[int]procEntry{
		40: {ppid: 30, start: "400", comm: "sh"},
		30: {ppid: 20, start: "300", comm: "-bash"},
		20: {ppid: 1, start: "200", comm: "node"},
		50: {ppid: 1, start: "500", comm: "dash"},
		60: {ppid: 99, start: "600", comm: "zsh"},
	}
	info := func(pid int) (procEntry, error) {
		if e, ok := procs[pid]; ok {
			return e, nil
		}
		return procEntry{}, errors.New("no such process")
	}
	for pid, want := range map[int]string{40: "20:200", 20: "20:200", 50: "", 60: "", 1: ""} {
		if got := callerFrom(pid, info); got != want {
			t.Errorf("callerFrom(%d) = %q, want %q", pid, got, want)
		}
	}
	loop := func(pid int) (procEntry, error) { return procEntry{ppid: pid + 1, start: "1", comm: "busybox"}, nil }
	if got := callerFrom(2, loop); got != "" {
		t.Errorf("an endless chain of shells gave %q", got)
	}
}

// The record of a token's callers resets when the token changes, keeps at most maxHelperCallers, and
// counts a run without identity as a re-ask once any run got the token.
func TestHelperRecord(t *testing.T) {
	var r helperRecord
	if r.asked("1:1") || r.asked("") {
		t.Fatal("an empty record says a caller asked")
	}
	r.served("fpA", "1:1")
	if !r.asked("1:1") || r.asked("2:2") || !r.asked("") {
		t.Fatalf("after one run by 1:1: %+v", r)
	}
	r.served("fpB", "2:2")
	if r.asked("1:1") || !r.asked("2:2") || r.Runs != 1 || r.Token != "fpB" {
		t.Fatalf("a new token did not reset the record: %+v", r)
	}
	for i := range 2 * maxHelperCallers {
		r.served("fpB", fmt.Sprintf("%d:9", 100+i))
	}
	if len(r.Callers) != maxHelperCallers || r.asked("2:2") || !r.asked(fmt.Sprintf("%d:9", 100+2*maxHelperCallers-1)) {
		t.Fatalf("%d callers kept (oldest kept %v), want the newest %d", len(r.Callers), r.asked("2:2"), maxHelperCallers)
	}
	long := helperRecord{Token: "fpC"} // a file holding more callers than any run keeps
	for i := range 10 * maxHelperCallers {
		long.Callers = append(long.Callers, fmt.Sprintf("%d:7", i))
	}
	long.served("fpC", "0:7")
	if len(long.Callers) != maxHelperCallers || !long.asked(fmt.Sprintf("%d:7", 10*maxHelperCallers-1)) {
		t.Fatalf("a run by a listed caller left %d callers, want the newest %d", len(long.Callers), maxHelperCallers)
	}
	now := time.Now()
	r.RefreshedAt = now.Add(-30 * time.Second)
	if !r.throttled(time.Minute, now) || r.throttled(10*time.Second, now) || r.throttled(0, now) {
		t.Error("the throttle does not follow min_refresh_interval")
	}
}

// Writing a token or the helper record keeps every other field of the cache file, including ones this
// version does not know, and the file stays 0600; a new token replaces every field of the old one.
func TestTokenCacheUpdateKeepsOtherFields(t *testing.T) {
	c := tokenCache{dir: t.TempDir()}
	pc := &config.Provider{Name: "corp", Upstream: "https://a.example", MinRefreshInterval: time.Minute}
	if err := os.WriteFile(c.path(pc), []byte(`{"future":{"x":1},"salt":"00","sum":"old"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ct := cachedToken{Token: sdk.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, Issued: time.Now()}
	if err := c.put(pc, ct); err != nil {
		t.Fatal(err)
	}
	if err := c.update(pc, map[string]any{"helper": helperRecord{Token: "fp", Runs: 1}}); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	data, _ := os.ReadFile(c.path(pc))
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["future"]) != `{"x":1}` || m["helper"] == nil || m["token"] == nil || m["salt"] != nil || m["sum"] != nil {
		t.Fatalf("cache file after put and update: %s", data)
	}
	if r := c.readRecord(pc); r.Token != "fp" || r.Runs != 1 {
		t.Errorf("record read back %+v", r)
	}
	if st, _ := os.Stat(c.path(pc)); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}
