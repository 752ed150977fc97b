// Package gemini is the built-in tokenhost plugin for Google Cloud Code Assist
// (https://cloudcode-pa.googleapis.com, the API the Gemini CLI uses). It serves Google access tokens from
// the Gemini CLI's "Login with Google" sign-in, from Application Default Credentials (a gcloud user sign-in
// or a service account key), from the GCE metadata server, or from a static token.
//
// Its options are documented in docs/providers/gemini.md, the one reference for them; a test keeps that page
// and the options the plugin accepts (and the sources each one applies to) in step.
//
// # gemini_cli
//
// Token reads oauth_creds.json (re-reading a file caught half written, since the Gemini CLI rewrites it in
// place) and serves its access_token while expiry_date (milliseconds since the epoch, possibly fractional)
// is more than refresh_window away. Otherwise, and on every Refresh, it takes an exclusive flock(2) on
// oauth_creds.json.lock beside the file (github.com/gofrs/flock, waiting at most lock_timeout), re-reads the
// file, and returns the access token there if it is not the one being replaced and is not due for refresh:
// another tokenhost process refreshed meanwhile, and no request is sent. Else it redeems the refresh token
// with the form-encoded refresh grant the Gemini CLI sends (client id and secret in the body) and writes
// the answer back before unlocking: the new access_token, token_type, scope and id_token as returned,
// refresh_token only when a new one came back (Google usually sends none), expires_in turned into an
// integer expiry_date in milliseconds. Every other field stays as it was. The file is replaced atomically:
// a temporary file in the same directory is written, set to mode 0600 and synced, renamed over
// oauth_creds.json, and the directory is synced; a crash leaves the old file or the new one. A refreshed
// sign-in that cannot be written is served from memory and written on every later call until a write
// succeeds (unless another program rewrote the file meanwhile: the file wins). The Gemini CLI
// itself takes no lock; since Google does not rotate refresh tokens, a race with it costs at most one extra
// refresh.
//
// # adc, service_account, metadata: Google's library
//
// These use golang.org/x/oauth2/google (CredentialsFromJSONWithTypeAndParams, which implements the
// authorized_user refresh grant and the service account JWT-bearer grant) and, for the metadata server,
// cloud.google.com/go/compute/metadata, the client that library itself uses. cloud.google.com/go/auth's
// credentials package would do as well, but it pulls in modules (the enterprise certificate proxy) this
// module does not require, while golang.org/x/oauth2 is already a direct dependency and lets every request
// go through the plugin's own HTTP client (timeout, no redirects). Only the two ADC types above are accepted
// (the type is checked before the JSON reaches the library); external_account and impersonation files are
// refused. The token_url option is written into the JSON's token_uri before the library sees it, so the
// grant goes there and a service account's assertion names it as aud. The library caches tokens inside each
// Credentials value, so every fetch builds a new one: Refresh always reaches the endpoint. With source adc
// and no file found, the metadata server is used when running on Google Cloud, as ADC does.
//
// # static
//
// The token comes from the token option (the host resolves token_env and token_file) or the environment
// variable GOOGLE_CLOUD_ACCESS_TOKEN, and never expires as far as the plugin knows. A Refresh of it is
// sdk.ReauthRequired: a static token cannot be refreshed.
//
// # Errors
//
// A missing sign-in file, a file without a refresh token, and invalid_grant or invalid_rapt from the token
// endpoint are sdk.ReauthRequired, naming the next step: run `gemini` and choose /auth for gemini_cli,
// `gcloud auth application-default login` for ADC, a new key for a service account. A damaged file is
// KindInternal naming the file. An endpoint that is down, slow or answers HTML is sdk.Unavailable; meanwhile
// Token keeps serving a stored or cached token that has not expired yet. Messages name the file or endpoint
// and quote at most the endpoint's error code and description, never a token, a refresh token, a secret, a
// private key or a response body.
package gemini
