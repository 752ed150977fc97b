package gateway

import (
	"net/http"
	"net/url"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// Client authentication methods (options.client_auth).
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authJWT   = "private_key_jwt"
	authTLS   = "tls_client_auth"
	authNone  = "none"
)

// clientAuthMethods lists the values client_auth accepts.
var clientAuthMethods = []string{authBasic, authPost, authJWT, authTLS, authNone}

// clientAuth is how the client proves who it is to the token endpoint.
type clientAuth struct {
	method string
	id     string
	secret string
	key    *signingKey // private_key_jwt
	issuer string      // the issuer option: a second audience of client assertions
}

// apply adds the client's authentication to a request to endpoint.
func (a *clientAuth) apply(form url.Values, req *http.Request, endpoint string) error {
	switch a.method {
	case authBasic:
		// RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(a.id), url.QueryEscape(a.secret))
	case authPost:
		form.Set("client_id", a.id)
		form.Set("client_secret", a.secret)
	case authJWT:
		jwt, err := a.key.sign(claims{iss: a.id, sub: a.id, aud: endpoint, aud2: a.issuer}, time.Now())
		if err != nil {
			return err
		}
		form.Set("client_id", a.id)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", jwt)
	case authTLS, authNone:
		if a.id != "" {
			form.Set("client_id", a.id)
		}
	}
	return nil
}

// key is the option to blame when the endpoint rejects the client.
func (a *clientAuth) blame() string {
	switch a.method {
	case authJWT:
		return "private_key_file"
	case authTLS:
		return "cert_file"
	case authNone:
		return "client_id"
	}
	return "client_secret"
}

// check names the options to check when the endpoint rejects the client.
func (a *clientAuth) check() string {
	switch a.method {
	case authJWT:
		return "client_id, private_key_file and kid (the key must be registered for the client)"
	case authTLS:
		return "client_id, cert_file and key_file (the certificate must be registered for the client)"
	case authNone:
		return "client_id (a public client) or set client_auth"
	}
	return "client_id and client_secret"
}

// parseClientAuth reads client_auth (or the older auth_style) and what the method needs.
func parseClientAuth(o sdk.Options, id, secret string, required bool) (*clientAuth, error) {
	method, err := o.String("client_auth", "")
	if err != nil {
		return nil, err
	}
	style, err := o.String("auth_style", "")
	if err != nil {
		return nil, err
	}
	if style != "" {
		var m string
		switch style {
		case "basic", authBasic:
			m = authBasic
		case "post", authPost:
			m = authPost
		default:
			return nil, sdk.BadConfig("auth_style", "must be basic (client_secret_basic) or post (client_secret_post), got %q", style)
		}
		if method != "" && method != m {
			return nil, sdk.BadConfig("auth_style", "conflicts with client_auth %q; give client_auth only", method)
		}
		method = m
	}
	if method == "" {
		method = authNone
		if secret != "" {
			method = authBasic
		}
	}
	a := &clientAuth{method: method, id: id, secret: secret}
	switch method {
	case authBasic, authPost:
		if secret == "" {
			return nil, sdk.BadConfig("client_secret", "is required; give it inline, as client_secret_env (an environment variable name) or as client_secret_file")
		}
	case authJWT, authTLS:
		if secret != "" {
			return nil, sdk.BadConfig("client_secret", "is not used with client_auth %s; remove it", method)
		}
	case authNone:
		if secret != "" {
			return nil, sdk.BadConfig("client_secret", "is not used with client_auth none; remove it or choose client_secret_basic")
		}
		if required {
			return nil, sdk.BadConfig("client_secret", "is required; give it inline, as client_secret_env (an environment variable name) or as client_secret_file, or set client_auth to private_key_jwt or tls_client_auth")
		}
	default:
		return nil, sdk.BadConfig("client_auth", "unknown method %q; use one of %v", method, clientAuthMethods)
	}
	if method != authNone && id == "" {
		return nil, sdk.BadConfig("client_id", "is required with client_auth %s", method)
	}
	return a, nil
}

// label is the short name of the method for Info.Mode; the two secret methods keep the older names.
func (a *clientAuth) label() string {
	switch a.method {
	case authBasic:
		return "basic"
	case authPost:
		return "post"
	case authNone:
		return "public client" // "none" read as "no sign-in" in check's MODE column
	}
	return a.method
}
