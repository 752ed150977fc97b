package fakes

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// deviceGrant posts a token request to s and returns the answer's JSON and status.
func deviceGrant(ctx context.Context, t *testing.T, s *DeviceServer, form url.Values) (map[string]any, int, error) {
	t.Helper()
	form.Set("client_id", "cli")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return doc, resp.StatusCode, nil
}

// signIn runs the device flow against s and returns the first refresh token.
func signIn(t *testing.T, s *DeviceServer) string {
	t.Helper()
	resp, err := http.PostForm(s.URL()+DevicePath, url.Values{"client_id": {"cli"}})
	if err != nil {
		t.Fatal(err)
	}
	var da map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&da)
	resp.Body.Close()
	doc, code, err := deviceGrant(t.Context(), t, s, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da["device_code"].(string)}})
	if err != nil || code != 200 {
		t.Fatalf("device grant: %d %v", code, err)
	}
	return doc["refresh_token"].(string)
}

func refreshWith(t *testing.T, s *DeviceServer, rt string) (string, int) {
	t.Helper()
	doc, code, err := deviceGrant(t.Context(), t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err != nil {
		t.Fatal(err)
	}
	next, _ := doc["refresh_token"].(string)
	if code != 200 && doc["error"] != "invalid_grant" {
		t.Fatalf("refresh answered %d %v", code, doc["error"])
	}
	return next, code
}

// Reusing a redeemed refresh token revokes its whole family: the current refresh token dies too, while
// another sign-in's family lives on.
func TestDeviceServerRevokesTheFamilyOnReuse(t *testing.T) {
	s := NewDeviceServer("cli")
	defer s.Close()
	first, other := signIn(t, s), signIn(t, s)
	second, code := refreshWith(t, s, first)
	if code != 200 {
		t.Fatal("first refresh refused")
	}
	if _, code := refreshWith(t, s, first); code != 400 {
		t.Fatal("a redeemed refresh token was accepted again")
	}
	if _, code := refreshWith(t, s, second); code != 400 {
		t.Fatal("the family's current refresh token survived the reuse")
	}
	if _, code := refreshWith(t, s, other); code != 200 {
		t.Fatal("another sign-in's family was revoked")
	}
	if s.Refreshes() != 2 || s.RefreshCalls() != 4 || s.InvalidGrants() != 2 || s.Reuses() != 1 {
		t.Fatalf("refreshes %d calls %d invalid %d reuses %d; want 2 4 2 1", s.Refreshes(), s.RefreshCalls(), s.InvalidGrants(), s.Reuses())
	}
}

// A held refresh whose client goes away is dropped unjudged: its refresh token still works afterwards.
func TestDeviceServerDropsAbandonedHeldRequests(t *testing.T) {
	s := NewDeviceServer("cli")
	defer s.Close()
	rt := signIn(t, s)
	release := s.Hold()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, _, err := deviceGrant(ctx, t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		done <- err
	}()
	if err := s.WaitHeld(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	wctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := s.WaitAbandoned(wctx, 1); err != nil {
		t.Fatal("the server never noticed the client went away")
	}
	release()
	if _, code := refreshWith(t, s, rt); code != 200 || s.RefreshCalls() != 1 || s.InvalidGrants() != 0 {
		t.Fatalf("after an abandoned refresh: %d, %d calls, %d invalid; want the token still live", code, s.RefreshCalls(), s.InvalidGrants())
	}
}

// Each sign-in is the person SetUser named when it started, and so is every access token refreshed from
// it, even after SetUser names someone else.
func TestDeviceTokensNameTheirPerson(t *testing.T) {
	s := NewDeviceServer("cli")
	defer s.Close()
	access := func(rt string) (string, string) {
		doc, code, err := deviceGrant(t.Context(), t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err != nil || code != 200 {
			t.Fatalf("refresh: %d %v", code, err)
		}
		return doc["access_token"].(string), doc["refresh_token"].(string)
	}
	alice := signIn(t, s)
	s.SetUser("bob")
	bob := signIn(t, s)
	a, _ := access(alice)
	b, _ := access(bob)
	if s.UserOf(a) != "alice" || s.UserOf(b) != "bob" || s.UserOf("never-issued") != "" {
		t.Fatalf("UserOf: %q, %q, %q; want alice, bob, \"\"", s.UserOf(a), s.UserOf(b), s.UserOf("never-issued"))
	}
}
