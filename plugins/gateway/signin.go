package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// storeVersion is the format of a stored sign-in file.
const storeVersion = 1

// signIn is what a sign-in leaves behind, stored in a 0600 file only tokenhost writes.
type signIn struct {
	Version      int       `json:"version"`
	Endpoint     string    `json:"token_endpoint,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Updated      time.Time `json:"updated"`
	// Issuer and Revocation are an MCP server's authorization server and its revocation endpoint, found
	// by discovery at sign-in and used until a request there fails.
	Issuer     string `json:"issuer,omitempty"`
	Revocation string `json:"revocation_endpoint,omitempty"`
	// Registered says how ClientID was obtained from Issuer when no client_id is configured: "dynamic"
	// (RFC 7591) or "metadata_document".
	Registered string `json:"registered,omitempty"`
	// Scopes are the scopes the sign-in is wanted for: those asked for at sign-in and any a server's
	// step-up asked for since; the next sign-in asks for all of them.
	Scopes []string `json:"scopes,omitempty"`
	// SignedOut is when `tokenhost logout` signed a fleet out: the fleet store keeps this mark instead of
	// the sign-in, so that no host seeds the store again from a copy of its own.
	SignedOut time.Time `json:"signed_out,omitzero"`
}

// current is a stored sign-in as read, with what a save needs to replace exactly that version.
type current struct {
	si  signIn
	ok  bool   // false: nothing is stored
	rev string // the fleet store's revision of si ("" for a file)
	// offline, when not nil, says si is a refreshed sign-in the fleet store has not taken yet (it is
	// unavailable): its access token may be served, but it must not be refreshed until the store answers.
	offline error
}

// signInStore keeps one provider's stored sign-in: in a 0600 file of this machine (fileStore), or, when
// the host shares the provider through a fleet store, in the storage the host serves (fleetStore), where
// every host of the fleet finds the same sign-in. A caller holds lock from load to save, so that this
// process redeems a refresh token once; across hosts the host's fetch lease does the same.
type signInStore interface {
	// lock waits for this sign-in's lock; unlock releases it.
	lock(ctx context.Context, timeout time.Duration) (unlock func(), err error)
	// load reads the stored sign-in.
	load(ctx context.Context) (current, error)
	// save stores si, the refreshed successor of cur, before its token is used, and returns the sign-in
	// whose token to serve: si, or a newer one another host stored meanwhile. When si cannot be stored it
	// is kept in memory and stored later: its refresh token is the only one that still works.
	save(ctx context.Context, cur current, si signIn) signIn
	// put replaces whatever is stored with a new sign-in (`tokenhost login`).
	put(ctx context.Context, si signIn) error
	// remove forgets the stored sign-in (`tokenhost logout`) and says what it did.
	remove(ctx context.Context) (string, error)
	// where names the sign-in's place in messages.
	where() string
}

var (
	_ signInStore = (*fileStore)(nil)
	_ signInStore = (*fleetStore)(nil)
)

// signInHash names a sign-in by its authorization server and client, without revealing either.
func signInHash(server, clientID string) string {
	sum := sha256.Sum256([]byte(server + "\x00" + clientID))
	return hex.EncodeToString(sum[:6])
}

func parseSignIn(data []byte) (signIn, error) {
	if _, err := credfile.ParseObject(data); err != nil {
		return signIn{}, err
	}
	var si signIn
	if err := json.Unmarshal(data, &si); err != nil {
		return signIn{}, credfile.Corrupt("does not hold a stored sign-in")
	}
	if si.Version != storeVersion {
		return signIn{}, credfile.NotSignedIn("has format version %d, not %d", si.Version, storeVersion)
	}
	return si, nil
}

// encodeSignIn returns the file's bytes for si; the fields of current (the file as it is, or nil) that
// this version does not know, written by a newer tokenhost or by hand, stay as they were.
func encodeSignIn(current []byte, si signIn) ([]byte, error) {
	si.Version = storeVersion
	data, err := json.Marshal(si)
	if err != nil || len(current) == 0 {
		return json.MarshalIndent(si, "", "  ")
	}
	old, err := credfile.ParseObject(current)
	if err != nil {
		return json.MarshalIndent(si, "", "  ")
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	for k, v := range old {
		if !signInFields[k] {
			out[k] = v
		}
	}
	return json.MarshalIndent(out, "", "  ")
}

// signInFields are the JSON names of signIn's fields: what encodeSignIn owns in a stored file.
var signInFields = func() map[string]bool {
	t := reflect.TypeFor[signIn]()
	names := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}()

// markOf identifies a stored sign-in by its refresh token's fingerprint.
func markOf(data []byte) (string, error) {
	si, err := parseSignIn(data)
	if err != nil {
		return "", err
	}
	return sdk.Fingerprint(si.RefreshToken), nil
}
