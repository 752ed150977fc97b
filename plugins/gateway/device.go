package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// Device flow constants (RFC 8628).
const (
	deviceGrantType     = "urn:ietf:params:oauth:grant-type:device_code"
	defaultPollInterval = 5 * time.Second  // when the server names no interval (RFC 8628 §3.2)
	minPollInterval     = time.Second      // a shorter (or fractional) interval is raised to this
	slowDownStep        = 5 * time.Second  // added to the interval on every slow_down
	maxDeviceWait       = 15 * time.Minute // the longest a sign-in waits for approval; a shorter expires_in wins
)

// deviceAuth is the device authorization endpoint's answer.
type deviceAuth struct {
	deviceCode, userCode, uri, uriComplete string
	expires                                time.Time
	interval                               time.Duration
}

// clock is the device flow's time: the time now, and the pause between polls, which ends early when ctx
// does. A constructor option replaces it in tests.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// wallClock is the real time.
type wallClock struct{}

// Now returns time.Now().
func (wallClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// deviceLogin runs RFC 8628: ask for a code, show it, poll until the user approved, denied or the code
// expired, and give up after maxDeviceWait (or the code's expires_in, when shorter).
func (s *source) deviceLogin(ctx context.Context, c *config, ui sdk.UI) (tokenResponse, error) {
	ep, err := c.endpoints.device(ctx, c)
	if err != nil {
		return tokenResponse{}, err
	}
	f := url.Values{}
	if len(c.scopes) > 0 {
		f.Set("scope", strings.Join(c.scopes, " "))
	}
	doc, err := c.post(ctx, ep, f, true)
	if err != nil {
		return tokenResponse{}, c.explain(err, ep)
	}
	start := s.clock.Now()
	da, err := parseDeviceAuth(doc, start)
	if err != nil {
		return tokenResponse{}, sdk.Unavailable("device authorization endpoint %s answered without %s", tokenkit.Display(ep), err)
	}
	p := sdk.Prompt{Message: "To sign in, open the page below and enter the code.", URL: da.uri, UserCode: da.userCode, Open: true}
	if da.uriComplete != "" {
		p = sdk.Prompt{Message: "To sign in, open the page below and confirm the code shown there.", URL: da.uriComplete, UserCode: da.userCode, Open: true}
	}
	if err := ui.Show(ctx, p); err != nil {
		return tokenResponse{}, err
	}
	deadline, limit := start.Add(maxDeviceWait), "the longest tokenhost waits"
	if !da.expires.IsZero() && da.expires.Before(deadline) {
		deadline, limit = da.expires, "the code's lifetime, expires_in"
	}
	interval := da.interval
	for {
		if err := s.clock.Sleep(ctx, interval); err != nil {
			return tokenResponse{}, err
		}
		if s.clock.Now().After(deadline) {
			return tokenResponse{}, sdk.ReauthRequired("the sign-in was not approved within %s (%s); run `tokenhost login <provider>` again and approve it in the browser",
				deadline.Sub(start).Round(time.Second), limit)
		}
		form := url.Values{"grant_type": {deviceGrantType}, "device_code": {da.deviceCode}}
		tr, err := c.hiding(da.deviceCode).token(ctx, form)
		var fl *failure
		if !errors.As(err, &fl) {
			if err != nil {
				return tokenResponse{}, err
			}
			return tr, nil
		}
		switch fl.code {
		case "authorization_pending":
			continue
		case "slow_down":
			interval = min(interval+slowDownStep, maxDeviceWait)
			continue
		case "access_denied":
			return tokenResponse{}, sdk.ReauthRequired("the sign-in was denied at the identity provider; run `tokenhost login` again to retry")
		case "expired_token":
			return tokenResponse{}, sdk.ReauthRequired("the sign-in code expired before it was approved; run `tokenhost login` again")
		}
		ep, _ := c.endpoints.token(ctx, c)
		return tokenResponse{}, c.explain(err, ep)
	}
}

// parseDeviceAuth reads the device authorization answer; its error names the missing field.
func parseDeviceAuth(doc map[string]any, now time.Time) (deviceAuth, error) {
	str := func(k string) string { v, _ := doc[k].(string); return v }
	da := deviceAuth{deviceCode: str("device_code"), userCode: str("user_code"), uri: str("verification_uri"),
		uriComplete: str("verification_uri_complete"), interval: defaultPollInterval}
	if da.uri == "" {
		da.uri = str("verification_url") // older Google-style name
	}
	for k, v := range map[string]string{"device_code": da.deviceCode, "user_code": da.userCode, "verification_uri": da.uri} {
		if v == "" {
			return da, fmt.Errorf("%s", k)
		}
	}
	for _, u := range []*string{&da.uri, &da.uriComplete} {
		if *u == "" {
			continue
		}
		pu, err := url.Parse(*u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || tokenhttp.HasControl(*u) {
			return da, fmt.Errorf("a usable verification_uri")
		}
		*u = pu.String() // the scheme in lower case, as the page opener and the user expect it
	}
	if n, ok := seconds(doc["expires_in"]); ok && n < maxDeviceWait.Seconds() {
		da.expires = now.Add(time.Duration(n * float64(time.Second)))
	}
	if n, ok := seconds(doc["interval"]); ok {
		da.interval = minPollInterval
		if n >= maxDeviceWait.Seconds() {
			da.interval = maxDeviceWait
		} else if d := time.Duration(n * float64(time.Second)); d > minPollInterval {
			da.interval = d
		}
	}
	return da, nil
}

// seconds reads a positive number of seconds given as a JSON number or a string holding one; ok is false
// for anything else.
func seconds(v any) (n float64, ok bool) {
	switch x := v.(type) {
	case float64:
		n = x
	case string:
		var err error
		if n, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return n, n > 0 // false for NaN too
}
