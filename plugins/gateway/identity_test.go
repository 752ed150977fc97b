package gateway

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

// Info names what the host's token cache must watch for each grant, and opts out where it cannot see the
// identity: a helper command's own sign-in.
func TestInfoNamesWhatDecidesTheIdentity(t *testing.T) {
	idp := newIdP(t)
	dir, state := t.TempDir(), t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	defaultStore := filepath.Join(state, "tokenhost", "gateway-"+signInHash(idp.TokenURL(), clientID)+".json")
	store, subject, actor := filepath.Join(dir, "corp.json"), filepath.Join(dir, "sa-token"), filepath.Join(dir, "actor")
	noClient := map[string]any{"client_id": nil, "client_secret": nil, "auth_style": nil}
	key := filepath.Join(dir, "key.pem")
	writeECKey(t, key)
	cases := []struct {
		name  string
		opts  map[string]any
		from  []sdk.IdentitySource
		noCLI bool
	}{
		{"client_credentials: the options alone", options(idp, nil), nil, false},
		{"stored sign-in: its file", options(idp, map[string]any{"grant": grantDeviceCode, "store": store, "client_secret": nil, "auth_style": nil}),
			[]sdk.IdentitySource{{File: store}}, false},
		{"stored sign-in in the default place: the file and what places it",
			options(idp, map[string]any{"grant": grantDeviceCode, "client_secret": nil, "auth_style": nil}),
			append([]sdk.IdentitySource{{File: defaultStore}}, sdk.IdentityEnv("XDG_STATE_HOME", "HOME", "USERPROFILE")...), false},
		{"token exchange: subject and actor files", options(idp, merge(noClient, map[string]any{"grant": grantTokenExchange, "subject_token_file": subject, "actor_token_file": actor})),
			[]sdk.IdentitySource{{File: subject}, {File: actor}}, false},
		{"token exchange: subject variable", options(idp, merge(noClient, map[string]any{"grant": grantTokenExchange, "subject_token_env": "CORP_SUBJECT"})),
			[]sdk.IdentitySource{{Env: "CORP_SUBJECT"}}, false},
		{"token exchange: subject command opts out", options(idp, merge(noClient, map[string]any{"grant": grantTokenExchange, "subject_token_command": []any{"corp-cli", "token"}})), nil, true},
		{"exec opts out", map[string]any{"grant": grantExec, "command": []any{"corp-cli", "token"}}, nil, true},
		{"jwt_bearer signed here: the key file", options(idp, map[string]any{"grant": grantJWTBearer, "private_key_file": key, "auth_style": nil}),
			[]sdk.IdentitySource{{File: key}}, false},
		{"static: its variable", map[string]any{"grant": grantStatic, "key_env": "CORP_KEY"}, []sdk.IdentitySource{{Env: "CORP_KEY"}}, false},
	}
	for _, c := range cases {
		info, err := New().Configure(t.Context(), c.opts)
		if err != nil {
			t.Fatalf("%s: %s", c.name, sdk.RedactString(err.Error(), clientSecret))
		}
		if from := info.IdentityFrom; !slices.Equal(from, c.from) || info.NoTokenCache != c.noCLI {
			t.Errorf("%s: IdentityFrom %+v, NoTokenCache %v; want %+v, %v", c.name, info.IdentityFrom, info.NoTokenCache, c.from, c.noCLI)
		}
	}
}

// A sign-in kept in a fleet store changes where the host's token cache cannot look: the plugin opts out.
func TestFleetSignInOptsOutOfTheTokenCache(t *testing.T) {
	idp := newIdP(t)
	src := New().(*source)
	src.UseStorage(sdktest.NewStorage())
	info, err := src.Configure(t.Context(), options(idp, map[string]any{"grant": grantDeviceCode, "store": filepath.Join(t.TempDir(), "c.json"), "client_secret": nil, "auth_style": nil}))
	if err != nil || !info.UsesStorage || !info.NoTokenCache || len(info.IdentityFrom) != 0 {
		t.Fatalf("fleet sign-in: Info %+v, %v; want UsesStorage, NoTokenCache and nothing in IdentityFrom", info, err)
	}
}
