package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

func TestParseDeviceAuthIntervalAndExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	base := func(extra map[string]any) map[string]any {
		doc := map[string]any{"device_code": "dc", "user_code": "UC", "verification_uri": "https://idp.example/device"}
		for k, v := range extra {
			doc[k] = v
		}
		return doc
	}
	for _, c := range []struct {
		name     string
		extra    map[string]any
		interval time.Duration
		expires  time.Time
	}{
		{"absent: RFC 8628's 5s, no expiry", nil, 5 * time.Second, time.Time{}},
		{"fractional: raised to 1s", map[string]any{"interval": 0.2}, time.Second, time.Time{}},
		{"zero: the default", map[string]any{"interval": 0.0}, 5 * time.Second, time.Time{}},
		{"string", map[string]any{"interval": "2.5", "expires_in": "600"}, 2500 * time.Millisecond, now.Add(10 * time.Minute)},
		{"whole seconds", map[string]any{"interval": 3.0, "expires_in": 90.5}, 3 * time.Second, now.Add(90500 * time.Millisecond)},
		{"not a number", map[string]any{"interval": "soon", "expires_in": true}, 5 * time.Second, time.Time{}},
		{"huge: capped, expiry left to the cap", map[string]any{"interval": 1e30, "expires_in": 1e30}, maxDeviceWait, time.Time{}},
	} {
		da, err := parseDeviceAuth(base(c.extra), now)
		if err != nil || da.interval != c.interval || !da.expires.Equal(c.expires) {
			t.Errorf("%s: interval %v expires %v err %v; want %v %v", c.name, da.interval, da.expires, err, c.interval, c.expires)
		}
	}
}

// pendingIdP answers a device authorization with auth and every poll with authorization_pending.
func pendingIdP(t *testing.T, auth map[string]any) (*httptest.Server, *atomic.Int64) {
	var polls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/device", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(auth)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"authorization_pending"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &polls
}

// A sign-in nobody approves ends: after maxDeviceWait without expires_in, after expires_in when it is
// shorter; a fractional interval polls once a second, not in a tight loop. The clock is a stepClock, so
// no real time passes.
func TestDevicePollingStops(t *testing.T) {
	for _, c := range []struct {
		name      string
		auth      map[string]any
		polls     int64
		step      time.Duration
		waited    string
		limitText string
	}{
		{"no expires_in, fractional interval", map[string]any{"interval": 0.2}, 900, time.Second, "15m0s", "the longest tokenhost waits"},
		{"expires_in", map[string]any{"expires_in": 60, "interval": 5}, 12, 5 * time.Second, "1m0s", "expires_in"},
	} {
		t.Run(c.name, func(t *testing.T) {
			auth := map[string]any{"device_code": "dc", "user_code": "UC", "verification_uri": "https://idp.example/device"}
			for k, v := range c.auth {
				auth[k] = v
			}
			srv, polls := pendingIdP(t, auth)
			clk := &stepClock{now: time.Now(), wait: func(context.Context, time.Duration) error {
				if polls.Load() > 5000 {
					return errors.New("still polling after 5000 polls")
				}
				return nil
			}}
			src := newSource(withClock(clk))
			if _, err := src.Configure(t.Context(), map[string]any{"grant": grantDeviceCode, "client_id": "cli",
				"device_authorization_url": srv.URL + "/device", "token_url": srv.URL + "/token", "store": filepath.Join(t.TempDir(), "s.json")}); err != nil {
				t.Fatal(err)
			}
			_, err := src.Login(t.Context(), &showUI{})
			if !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "tokenhost login <provider>") ||
				!strings.Contains(err.Error(), "not approved within "+c.waited) || !strings.Contains(err.Error(), c.limitText) {
				t.Fatalf("err = %v; want ReauthRequired saying it waited %s (%s) and to run tokenhost login", err, c.waited, c.limitText)
			}
			if n := polls.Load(); n != c.polls {
				t.Errorf("polled %d times, want %d", n, c.polls)
			}
			for _, d := range clk.waits {
				if d != c.step {
					t.Fatalf("paused %v between polls, want %v each time", d, c.step)
				}
			}
		})
	}
}
