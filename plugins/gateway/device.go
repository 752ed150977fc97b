package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// Device flow constants (RFC 8628).
const (
	deviceGrantType     = "urn:ietf:params:oauth:grant-type:device_code"
	defaultPollInterval = 5 * time.Second
	slowDownStep        = 5 * time.Second
)

// deviceAuth is the device authorization endpoint's answer.
type deviceAuth struct {
	deviceCode, userCode, uri, uriComplete string
	expires                                time.Time
	interval                               time.Duration
}

// deviceLogin runs RFC 8628: ask for a code, show it, poll until the user approved, denied or the code
// expired. wait pauses between polls (a constructor option replaces it in tests).
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
	da, err := parseDeviceAuth(doc, time.Now())
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
	interval := da.interval
	for {
		if !da.expires.IsZero() && time.Now().After(da.expires) {
			return tokenResponse{}, sdk.ReauthRequired("the sign-in code expired before it was used; run `tokenhost login` again")
		}
		if err := s.wait(ctx, interval); err != nil {
			return tokenResponse{}, err
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
			interval += slowDownStep
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
	if n, ok := doc["expires_in"].(float64); ok && n > 0 {
		da.expires = now.Add(time.Duration(n) * time.Second)
	}
	if n, ok := doc["interval"].(float64); ok && n > 0 {
		da.interval = time.Duration(n) * time.Second
	}
	return da, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
