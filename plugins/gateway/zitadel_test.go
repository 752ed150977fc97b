package gateway

import (
	"context"
	"crypto"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The tests in this file run the gateway against zitadel/oidc's example OpenID Provider: an independently
// written authorization server, so the plugin's wire format is checked by code that is not ours.

// Clients the test OP knows, beside the example storage's service user sid1 / verysecret.
const (
	opServiceUser   = "sid1"
	opServiceSecret = "verysecret"
	opDeviceClient  = "device"     // public; device code + refresh token
	opJWTClient     = "jwt-client" // confidential, private_key_jwt; device code + refresh + token exchange
	opWebClient     = "web"        // client_secret_basic; token exchange
	opWebSecret     = "web-s3cret-value"
	opAdminUser     = "id1" // the example user store's admin
)

// testOP is the example storage with a few things the example does not offer: clients allowed more grants,
// keys registered by the test, and scripted device-poll answers.
type testOP struct {
	*storage.Storage
	issuer string

	mu       sync.Mutex
	keys     map[string]*jose.JSONWebKey // client id + "/" + kid
	slowDown int                         // the next device polls that get slow_down
	expire   bool                        // device codes read as expired
}

// wrappedClient changes what an example client may do.
type wrappedClient struct {
	op.Client
	method oidc.AuthMethod
	app    op.ApplicationType
	grants []oidc.GrantType
}

func (c wrappedClient) AuthMethod() oidc.AuthMethod         { return c.method }
func (c wrappedClient) ApplicationType() op.ApplicationType { return c.app }
func (c wrappedClient) GrantTypes() []oidc.GrantType        { return c.grants }
func (c wrappedClient) IsScopeAllowed(scope string) bool    { return true }

func (s *testOP) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	switch id {
	case opDeviceClient:
		return wrappedClient{c, oidc.AuthMethodNone, op.ApplicationTypeNative, []oidc.GrantType{oidc.GrantTypeDeviceCode, oidc.GrantTypeRefreshToken}}, nil
	case opJWTClient:
		return wrappedClient{c, oidc.AuthMethodPrivateKeyJWT, op.ApplicationTypeWeb, []oidc.GrantType{oidc.GrantTypeDeviceCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeTokenExchange}}, nil
	}
	return c, nil
}

func (s *testOP) GetKeyByIDAndClientID(ctx context.Context, kid, clientID string) (*jose.JSONWebKey, error) {
	s.mu.Lock()
	k, ok := s.keys[clientID+"/"+kid]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	return s.Storage.GetKeyByIDAndClientID(ctx, kid, clientID)
}

func (s *testOP) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	slow, expire := s.slowDown > 0, s.expire
	if slow {
		s.slowDown--
	}
	s.mu.Unlock()
	if slow {
		return nil, context.DeadlineExceeded // the library answers slow_down
	}
	st, err := s.Storage.GetDeviceAuthorizatonState(ctx, clientID, deviceCode)
	if err == nil && expire {
		cp := *st
		cp.Expires = cp.Expires.AddDate(-1, 0, 0)
		cp.Done = false
		return &cp, nil
	}
	return st, err
}

// CreateAccessAndRefreshTokens fixes one gap of the example storage: for a device-flow grant it records
// no client id with the refresh token, so the library refuses every refresh of it (invalid_grant). The
// device authorization is handed over as the auth request it stands for.
func (s *testOP) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	if ds, ok := req.(*op.DeviceAuthorizationState); ok && current == "" {
		req = &storage.AuthRequest{ApplicationID: ds.ClientID, UserID: ds.Subject, Scopes: ds.Scopes}
	}
	return s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
}

// register makes pub the key kid of clientID.
func (s *testOP) register(clientID, kid string, pub crypto.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[clientID+"/"+kid] = &jose.JSONWebKey{KeyID: kid, Use: "sig", Key: pub}
}

// newTestOP starts the example OP on a loopback port.
func newTestOP(t *testing.T) *testOP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	clients := map[string]*storage.Client{
		opDeviceClient: storage.DeviceClient(opDeviceClient, ""),
		opJWTClient:    storage.DeviceClient(opJWTClient, ""),
		opWebClient:    storage.WebClient(opWebClient, opWebSecret),
	}
	s := &testOP{Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), clients), issuer: issuer, keys: map[string]*jose.JSONWebKey{}}
	router := exampleop.SetupServer(issuer, s, nil, false)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: router}}
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}
