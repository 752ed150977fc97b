package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// helperOutput is the JSON shapes a helper may print, decoded at once.
type helperOutput struct {
	// Generic and credential_process style.
	AccessToken string          `json:"access_token"`
	Token       string          `json:"token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	Expiry      json.RawMessage `json:"expiry"`
	Expiration  json.RawMessage `json:"Expiration"`
	// client-go ExecCredential.
	Kind   string `json:"kind"`
	Status *struct {
		Token               string `json:"token"`
		ExpirationTimestamp string `json:"expirationTimestamp"`
	} `json:"status"`
	// az account get-access-token -o json.
	AZToken     string          `json:"accessToken"`
	AZExpiresOn string          `json:"expiresOn"`
	AZExpiresAt json.RawMessage `json:"expires_on"`
}

// azLocalTime is the layout of az's expiresOn: local time without a zone.
const azLocalTime = "2006-01-02 15:04:05.999999"

// parseHelperOutput reads what a helper printed: a bare one-line token, or JSON. Its errors describe the
// output without quoting it.
func parseHelperOutput(out []byte, now time.Time) (tokenResponse, error) {
	text := strings.TrimSpace(string(out))
	if text == "" {
		return tokenResponse{}, errors.New("nothing")
	}
	if !strings.HasPrefix(text, "{") {
		if strings.ContainsAny(text, " \t\r\n") || tokenhttp.HasControl(text) {
			return tokenResponse{}, errors.New("more than one word and no JSON object")
		}
		return checkLength(tokenResponse{access: text, tokenType: "Bearer"})
	}
	var h helperOutput
	if err := json.Unmarshal([]byte(text), &h); err != nil {
		return tokenResponse{}, errors.New("JSON that cannot be read")
	}
	tr := tokenResponse{tokenType: "Bearer"}
	var err error
	switch {
	case h.Status != nil && h.Status.Token != "":
		tr.access = h.Status.Token
		if h.Status.ExpirationTimestamp != "" {
			if tr.expiry, err = time.Parse(time.RFC3339, h.Status.ExpirationTimestamp); err != nil {
				return tokenResponse{}, errors.New("an ExecCredential whose status.expirationTimestamp is not RFC 3339")
			}
		}
	case h.AZToken != "":
		tr.access = h.AZToken
		switch {
		case len(h.AZExpiresAt) > 0:
			tr.expiry, err = readExpiry(jsonValue(h.AZExpiresAt), expiryUnix, now)
		case h.AZExpiresOn != "":
			tr.expiry, err = time.ParseInLocation(azLocalTime, h.AZExpiresOn, time.Local)
		}
		if err != nil {
			return tokenResponse{}, errors.New("az output whose expiry cannot be read")
		}
	case h.AccessToken != "" || h.Token != "":
		tr.access = h.AccessToken
		if tr.access == "" {
			tr.access = h.Token
		}
		switch {
		case len(h.ExpiresIn) > 0:
			tr.expiry, err = readExpiry(jsonValue(h.ExpiresIn), expirySeconds, now)
		case len(h.ExpiresAt) > 0:
			tr.expiry, err = readFlexibleTime(jsonValue(h.ExpiresAt), now)
		case len(h.Expiry) > 0:
			tr.expiry, err = readFlexibleTime(jsonValue(h.Expiry), now)
		case len(h.Expiration) > 0:
			tr.expiry, err = readFlexibleTime(jsonValue(h.Expiration), now)
		}
		if err != nil {
			return tokenResponse{}, fmt.Errorf("JSON whose expiry %s", err)
		}
	default:
		return tokenResponse{}, errors.New("JSON without access_token, token, status.token or accessToken")
	}
	if tokenhttp.HasControl(tr.access) {
		return tokenResponse{}, errors.New("a token with control characters")
	}
	return checkLength(tr)
}

// checkLength refuses a token longer than sdk.MaxTokenBytes; its error is a phrase that quotes nothing.
func checkLength(tr tokenResponse) (tokenResponse, error) {
	if len(tr.access) > sdk.MaxTokenBytes {
		return tokenResponse{}, fmt.Errorf("a token of %d bytes, more than the %d a token may have", len(tr.access), sdk.MaxTokenBytes)
	}
	return tr, nil
}

// readFlexibleTime reads an RFC 3339 string or Unix seconds.
func readFlexibleTime(v any, now time.Time) (time.Time, error) {
	if s, ok := v.(string); ok && strings.ContainsAny(s, "-:T") {
		return readExpiry(s, expiryRFC3339, now)
	}
	return readExpiry(v, expiryUnix, now)
}

func jsonValue(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}
