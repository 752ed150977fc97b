// Command corp-plugin is a complete tokenhost plugin for a home-grown corporate token service: it posts
// its client id and secret as a form, with the tenant in a custom header, and reads a non-standard answer
// ({"jwt": "...", "valid_for_minutes": 30}). A refused client (401, invalid_grant) needs a person: it is
// reported as ReauthRequired. Build it, pin it, and point a provider at it:
//
//	go build -o corp-plugin ./examples/plugin
//	tokenhost plugins hash ./corp-plugin   # prints the sha256: line for the config
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

type corp struct{ tokenURL, clientID, secret, tenant string }

func main() { sdk.Serve(&corp{}) }

func (c *corp) Configure(_ context.Context, raw map[string]any) (sdk.Info, error) {
	o := sdk.Options(raw)
	if err := o.Unknown("token_url", "client_id", "client_secret", "tenant"); err != nil {
		return sdk.Info{}, err
	}
	for key, dst := range map[string]*string{"token_url": &c.tokenURL, "client_id": &c.clientID, "client_secret": &c.secret, "tenant": &c.tenant} {
		v, err := o.String(key, "")
		if err == nil && v == "" {
			err = sdk.BadConfig(key, "is required")
		}
		if err != nil {
			return sdk.Info{}, err
		}
		*dst = v
	}
	return sdk.Info{Name: "corp", Version: "1.0.0"}, nil
}

func (c *corp) Token(ctx context.Context) (sdk.Token, error) {
	form := url.Values{"client_id": {c.clientID}, "client_secret": {c.secret}}
	body, err := tokenkit.PostForm(ctx, c.tokenURL, form, map[string]string{"X-Corp-Tenant": c.tenant})
	var refused *tokenkit.HTTPError
	if errors.As(err, &refused) && (refused.Status == 401 || refused.Code == "invalid_grant") {
		return sdk.Token{}, sdk.ReauthRequired("the corp token service refused client %s; ask for a new client_secret", c.clientID)
	} else if err != nil {
		return sdk.Token{}, err
	}
	var answer struct {
		JWT      string `json:"jwt"`
		ValidFor int    `json:"valid_for_minutes"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.JWT == "" {
		return sdk.Token{}, sdk.Unavailable("the corp token service answered without a jwt; try again later")
	}
	return sdk.Token{Value: answer.JWT, Type: "Bearer", Expiry: time.Now().Add(time.Duration(answer.ValidFor) * time.Minute)}, nil
}

// Refresh needs no cache to bypass: every Token call asks the service for a new token.
func (c *corp) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) { return c.Token(ctx) }
