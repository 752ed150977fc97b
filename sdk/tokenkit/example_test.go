package tokenkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// A plugin's Token posts its form to the token endpoint and reads the answer; PostForm gives every failure
// the kind the host acts on. This endpoint answers a non-standard body, then refuses the client.
func ExamplePostForm() {
	var calls atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) > 1 {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"client disabled"}`)
			return
		}
		fmt.Fprintf(w, `{"jwt":"issued-to-%s","valid_for_minutes":30}`, r.Header.Get("X-Corp-Tenant"))
	}))
	defer endpoint.Close()

	ctx := context.Background()
	form := url.Values{"client_id": {"my-agent"}, "client_secret": {"example-secret"}}
	header := map[string]string{"X-Corp-Tenant": "research"}
	body, err := tokenkit.PostForm(ctx, endpoint.URL+"/token", form, header)
	if err != nil {
		fmt.Println(err)
		return
	}
	var answer struct {
		JWT      string `json:"jwt"`
		ValidFor int    `json:"valid_for_minutes"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("valid for", answer.ValidFor, "minutes, issued to the tenant:", answer.JWT == "issued-to-research")

	_, err = tokenkit.PostForm(ctx, endpoint.URL+"/token", form, header)
	var refused *tokenkit.HTTPError
	if errors.As(err, &refused) {
		fmt.Println(refused.Status, refused.Code, sdk.KindOf(err))
	}
	// Output:
	// valid for 30 minutes, issued to the tenant: true
	// 401 invalid_grant REAUTH_REQUIRED
}

// Classify maps a token endpoint's error answer to the kind the host acts on: the standard code decides,
// else whether the status is transient.
func ExampleClassify() {
	for _, answer := range []struct {
		status int
		code   string
	}{
		{400, "invalid_grant"},  // the grant is dead: someone must sign in again
		{401, "invalid_client"}, // the configuration is refused
		{503, ""},               // try again later
		{429, "slow_down"},      // a code Classify does not know: the status decides
		{403, ""},               // a refusal nobody explained
	} {
		fmt.Println(answer.status, answer.code, "->", tokenkit.Classify(answer.status, answer.code))
	}
	// Output:
	// 400 invalid_grant -> REAUTH_REQUIRED
	// 401 invalid_client -> BAD_CONFIG
	// 503  -> UNAVAILABLE
	// 429 slow_down -> UNAVAILABLE
	// 403  -> INTERNAL
}

// FromTokenSource serves any golang.org/x/oauth2 TokenSource as a plugin's Source: here client
// credentials built from the provider's options. Refresh builds the source again, so the host gets a new
// token rather than the one the source cached.
func ExampleFromTokenSource() {
	var issued atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, issued.Add(1))
	}))
	defer endpoint.Close()

	src := tokenkit.FromTokenSource(sdk.Info{Name: "corp", Version: "1.0.0"},
		func(ctx context.Context, o sdk.Options) (oauth2.TokenSource, error) {
			if err := o.Unknown("token_url", "client_id", "client_secret"); err != nil {
				return nil, err
			}
			tokenURL, err := o.String("token_url", "")
			if err != nil {
				return nil, err
			}
			id, err := o.String("client_id", "")
			if err != nil {
				return nil, err
			}
			secret, err := o.String("client_secret", "")
			if err != nil {
				return nil, err
			}
			cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL}
			return cc.TokenSource(ctx), nil
		})

	ctx := context.Background()
	info, err := src.Configure(ctx, map[string]any{
		"token_url": endpoint.URL + "/token", "client_id": "my-agent", "client_secret": "example-secret",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	first, err := src.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := src.Token(ctx)
	fresh, err := src.Refresh(ctx, first)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Name, info.Version, first.Type)
	fmt.Println("Token serves the cached token:", again.Value == first.Value)
	fmt.Println("Refresh returns another:", fresh.Value != first.Value)
	fmt.Println("token requests:", issued.Load())
	// Output:
	// corp 1.0.0 Bearer
	// Token serves the cached token: true
	// Refresh returns another: true
	// token requests: 2
}
