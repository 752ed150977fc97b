package codex

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// authClaim is the JWT claim under which OpenAI puts the ChatGPT account of a token.
const authClaim = "https://api.openai.com/auth"

// maxExp is the largest exp claim accepted (the last second of year 9999).
const maxExp = 253402300799

// claims are the parts of a JWT payload the plugin reads.
type claims struct {
	exp       time.Time // zero when the token carries no exp claim
	accountID string    // [authClaim].chatgpt_account_id; "" when absent
}

// readClaims decodes the payload of a compact JWS (header.payload.signature) and returns its exp and
// ChatGPT account id. The signature is not checked: the token is the upstream's to verify, and the plugin
// only reads when to refresh and which account header to send, both of which the upstream checks against
// the token anyway. Errors describe the problem and never quote the token.
func readClaims(jwt string) (claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims{}, fmt.Errorf("is not a JWT (%d dot-separated segments, want 3)", len(parts))
	}
	payload := strings.TrimRight(parts[1], "=")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		// Tolerate the standard alphabet too; some writers get this wrong.
		if raw, err = base64.RawStdEncoding.DecodeString(payload); err != nil {
			return claims{}, errors.New("is not a JWT (its payload is not base64url)")
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return claims{}, errors.New("is not a JWT (its payload is not a JSON object)")
	}

	var c claims
	if e, ok := m["exp"]; ok && string(e) != "null" {
		var f float64
		if err := json.Unmarshal(e, &f); err != nil {
			return claims{}, errors.New("has a non-numeric exp claim")
		}
		if f <= 0 || f > maxExp || math.IsNaN(f) {
			return claims{}, errors.New("has an exp claim out of range")
		}
		sec, frac := math.Modf(f)
		c.exp = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	if a, ok := m[authClaim]; ok {
		// A claim of another shape carries no account id; it is not an error in the token.
		var auth struct {
			AccountID any `json:"chatgpt_account_id"`
		}
		if json.Unmarshal(a, &auth) == nil {
			if s, ok := auth.AccountID.(string); ok {
				c.accountID = s
			}
		}
	}
	return c, nil
}
