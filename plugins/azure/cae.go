package azure

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/tokenhost/tokenhost/sdk"
)

// maxClaims bounds the encoded claims of a challenge the plugin passes on.
const maxClaims = 8 << 10

// caeClaims returns the JSON claims of a Continuous Access Evaluation challenge in challenge (the first
// Bearer challenge with a claims parameter that decodes to JSON), or "" when it has none.
func caeClaims(challenge string) string {
	for _, c := range sdk.ParseChallenges(challenge) {
		enc := c.Params["claims"]
		if !strings.EqualFold(c.Scheme, "Bearer") || enc == "" || len(enc) > maxClaims {
			continue
		}
		for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := e.DecodeString(enc); err == nil && json.Valid(b) {
				return string(b)
			}
		}
	}
	return ""
}
