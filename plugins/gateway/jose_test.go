package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tokenhost/tokenhost/sdk"
)

// assertionServer records the client assertions it receives and answers with a token.
type assertionServer struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
}

func newAssertionServer(t *testing.T) *assertionServer {
	s := &assertionServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		s.mu.Lock()
		s.forms = append(s.forms, r.PostForm)
		n := len(s.forms)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + string(rune('a'+n)), "expires_in": 60})
	}))
	t.Cleanup(s.Close)
	return s
}

// RFC 7523 §2.2 / OIDC Core §9: iss = sub = client_id, aud = the token endpoint, a unique jti, a short
// exp; the algorithm follows the key (a JWK's alg wins), the kid option names it.
func TestPrivateKeyJWTAssertion(t *testing.T) {
	dir := t.TempDir()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: rk, KeyID: "from-jwk", Algorithm: string(jose.PS256), Use: "sig"}
	data, err := jwk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	jwkPath := filepath.Join(dir, "key.jwk")
	if err := os.WriteFile(jwkPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ecPath := filepath.Join(dir, "ec.pem")
	ek := writeECKey(t, ecPath)

	for _, c := range []struct {
		name, path, kid string
		pub             any
		alg             jose.SignatureAlgorithm
		wantKid         string
	}{
		{"JWK with alg PS256", jwkPath, "", &rk.PublicKey, jose.PS256, "from-jwk"},
		{"PEM EC key", ecPath, "ec-1", &ek.PublicKey, jose.ES256, "ec-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newAssertionServer(t)
			src := configure(t, map[string]any{"token_url": srv.URL + "/token", "client_id": "svc", "client_auth": authJWT, "private_key_file": c.path, "kid": c.kid})
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Refresh(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			jtis := map[string]bool{}
			for _, f := range srv.forms {
				if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Get("client_id") != "svc" || f.Get("client_secret") != "" {
					t.Fatalf("form fields: type %q id %q", f.Get("client_assertion_type"), f.Get("client_id"))
				}
				parsed, err := jwt.ParseSigned(f.Get("client_assertion"), []jose.SignatureAlgorithm{c.alg})
				if err != nil {
					t.Fatalf("assertion is not a %s JWT: %v", c.alg, err)
				}
				if h := parsed.Headers[0]; h.KeyID != c.wantKid {
					t.Errorf("kid %q, want %q", h.KeyID, c.wantKid)
				}
				var cl jwt.Claims
				if err := parsed.Claims(c.pub, &cl); err != nil {
					t.Fatalf("signature: %v", err)
				}
				if err := cl.ValidateWithLeeway(jwt.Expected{Issuer: "svc", Subject: "svc", AnyAudience: jwt.Audience{srv.URL + "/token"}, Time: time.Now()}, 0); err != nil {
					t.Errorf("claims: %v", err)
				}
				if life := cl.Expiry.Time().Sub(cl.IssuedAt.Time()); life <= 0 || life > 5*time.Minute {
					t.Errorf("exp - iat = %s, want at most 5m", life)
				}
				if cl.ID == "" || jtis[cl.ID] {
					t.Errorf("jti %q is empty or reused", cl.ID)
				}
				jtis[cl.ID] = true
			}
			if len(srv.forms) != 2 {
				t.Fatalf("%d token requests, want 2", len(srv.forms))
			}
		})
	}

	for name, content := range map[string]string{"public JWK": `{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`, "garbage": "not a key"} {
		p := filepath.Join(dir, "bad-"+name)
		os.WriteFile(p, []byte(content), 0o600)
		_, err := New().Configure(t.Context(), map[string]any{"token_url": "https://idp.example/token", "client_id": "svc", "client_auth": authJWT, "private_key_file": p})
		if !sdk.IsKind(err, sdk.KindBadConfig) {
			t.Errorf("%s: %v, want BadConfig", name, err)
		}
	}
}

func TestSubjectTokenFromEnvAndCommand(t *testing.T) {
	srv := newAssertionServer(t)
	t.Setenv("WORKLOAD_TOKEN_FOR_TEST", "subject-from-env")
	helper := script(t, `echo '{"token":"subject-from-command","expires_in":60}'`)
	for want, opts := range map[string]map[string]any{
		"subject-from-env":     {"subject_token_env": "WORKLOAD_TOKEN_FOR_TEST"},
		"subject-from-command": {"subject_token_command": []any{helper}},
	} {
		opts["grant"], opts["token_url"], opts["subject_token_type"], opts["requested_token_type"] = grantTokenExchange, srv.URL, "id_token", "access_token"
		if _, err := configure(t, opts).Token(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.mu.Lock()
		f := srv.forms[len(srv.forms)-1]
		srv.mu.Unlock()
		if f.Get("subject_token") != want || f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token" ||
			f.Get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token" ||
			f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || f.Get("client_id") != "" {
			t.Errorf("%s: the token exchange form lacks the expected fields (subject_token, types, grant_type, no client_id)", want)
		}
	}
}
