package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// assertionLifetime is how long a signed client assertion or jwt-bearer assertion is valid (RFC 7523
// asks for a short exp; five minutes is the usual ceiling).
const assertionLifetime = 4 * time.Minute

// signingKey is a private key read from private_key_file, with the algorithm chosen for it.
type signingKey struct {
	key crypto.Signer
	alg jose.SignatureAlgorithm
	kid string
}

// loadKey reads a PEM (PKCS#8, PKCS#1 or SEC 1) or JWK private key. The algorithm comes from the JWK's
// alg, else from the key: RS256 for RSA, ES256/ES384/ES512 for the NIST curves. Errors quote neither the
// file nor its path (the option's name marks it secret, so its value is redacted everywhere).
func loadKey(path, kid string) (*signingKey, error) {
	const file = "the private_key_file"
	data, err := credfile.ReadLimited(path)
	if err != nil {
		return nil, sdk.BadConfig("private_key_file", "cannot read %s: %s", file, fsmsg.Reason(err))
	}
	sk := &signingKey{kid: kid}
	if block, _ := pem.Decode(data); block != nil {
		k, err := parsePEMKey(block)
		if err != nil {
			return nil, sdk.BadConfig("private_key_file", "%s: %s", file, err)
		}
		sk.key = k
	} else {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(data, &jwk); err != nil {
			return nil, sdk.BadConfig("private_key_file", "%s is neither a PEM private key nor a JWK", file)
		}
		signer, ok := jwk.Key.(crypto.Signer)
		if !ok || jwk.IsPublic() {
			return nil, sdk.BadConfig("private_key_file", "%s holds a JWK that is not an RSA or EC private key", file)
		}
		sk.key, sk.alg = signer, jose.SignatureAlgorithm(jwk.Algorithm)
		if sk.kid == "" {
			sk.kid = jwk.KeyID
		}
	}
	if sk.alg == "" {
		switch k := sk.key.(type) {
		case *rsa.PrivateKey:
			sk.alg = jose.RS256
		case *ecdsa.PrivateKey:
			switch k.Curve {
			case elliptic.P256():
				sk.alg = jose.ES256
			case elliptic.P384():
				sk.alg = jose.ES384
			case elliptic.P521():
				sk.alg = jose.ES512
			}
		}
	}
	switch sk.alg {
	case jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.ES512:
	default:
		return nil, sdk.BadConfig("private_key_file", "%s: unsupported key or algorithm %q; use an RSA key (RS256, PS256) or an EC P-256 key (ES256)", file, sk.alg)
	}
	return sk, nil
}

func parsePEMKey(block *pem.Block) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("the PKCS#8 key is not an RSA or EC key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("the PEM block %q is not a private key (PKCS#8, PKCS#1 or SEC 1)", block.Type)
}

// claims are the registered claims of an assertion.
type claims struct {
	iss, sub, aud string
	aud2          string // a second audience, when set
}

// sign returns a compact JWT with iss, sub, aud, a unique jti, iat, nbf and a short exp.
func (k *signingKey) sign(c claims, now time.Time) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		return "", sdk.Internal("cannot make a %s signer from private_key_file: %v", k.alg, err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", sdk.Internal("no randomness for an assertion's jti: %v", err)
	}
	aud := jwt.Audience{c.aud}
	if c.aud2 != "" && c.aud2 != c.aud {
		aud = append(aud, c.aud2)
	}
	out, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: c.iss, Subject: c.sub, Audience: aud, ID: hex.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-30 * time.Second)),
		Expiry: jwt.NewNumericDate(now.Add(assertionLifetime)),
	}).Serialize()
	if err != nil {
		return "", sdk.Internal("cannot sign an assertion with private_key_file: %v", err)
	}
	return out, nil
}
