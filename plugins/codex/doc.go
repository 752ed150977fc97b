// Package codex is the built-in tokenhost plugin for the ChatGPT sign-in of the OpenAI Codex CLI: it serves
// the access token from the Codex CLI's auth.json, with the ChatGPT-Account-ID header the ChatGPT Codex
// backend (https://chatgpt.com/backend-api/codex) requires, and refreshes it the way the Codex CLI does, so
// tokenhost and any number of Codex CLIs can share one sign-in without logging each other out.
//
// Its options are documented in docs/providers/codex.md, the one reference for them; a test keeps that page
// and the options the plugin accepts in step.
//
// # What it reads
//
// Every Token and Refresh call reads auth.json afresh (the host caches tokens, so this is rare). The
// access token's expiry comes from its JWT exp claim; the account id from tokens.account_id, else the
// id_token's claim ["https://api.openai.com/auth"].chatgpt_account_id. JWT signatures are not checked:
// the token is the upstream's to verify, and the plugin only reads when to refresh and which account to
// name, both of which the upstream checks against the token itself. A file whose auth_mode is "apikey",
// or with no auth_mode, an OPENAI_API_KEY and no tokens, is served as an API key: no expiry, no refresh, and the OpenAI API (https://api.openai.com/v1) as the
// default upstream, where such a key is valid.
//
// # What it writes
//
// Only a refresh writes, and only tokens.id_token, tokens.access_token and tokens.refresh_token (those the
// endpoint returned) and last_refresh (RFC 3339, UTC). Every other field at every level, known or not,
// is kept as it was; OPENAI_API_KEY stays exactly as it was, null included. The file is re-encoded with
// two-space indentation (keys in sorted order) and replaced atomically: a temporary file in the same
// directory is written, synced and set to mode 0600, then renamed over auth.json, and the directory is
// synced. A crash at any point leaves either the old file or the new one, never a truncated one. If the
// write fails after the endpoint answered, the new tokens (the only working sign-in, since the old refresh
// token is spent) are served from memory and written on every later call until a write succeeds, unless
// another program rewrote the file meanwhile, in which case the file wins.
//
// # Sharing auth.json with the Codex CLI
//
// Refresh tokens rotate and are single-use, and the Codex CLI (0.169) throws away freshly redeemed tokens
// when auth.json.lock stays busy for ~5 s while it wants to write. So the plugin holds the CLI's locks
// (auth.lock, then auth.json.lock, in the CLI's order) only to re-read and write the file, coordinates
// tokenhost processes across the network call with a lock of its own (auth.json.tokenhost.lock), and after
// refresh_token_reused or invalid_grant re-reads the file for reuse_wait before asking for `codex login`.
// share.go holds the protocol; docs/providers/codex.md describes it with the measurements.
//
// # Fleet mode
//
// When the host offers storage (sdk.StorageUser: a shared provider on a host with a fleet store), the
// sign-in lives there, the same for every host: seeded once from an auth.json, refreshed only through
// storage (redeem, then compare-and-set before the token is returned), never redeemed while the store is
// out of reach, and copied back into auth.json on machines that have one. fleet.go and fleet_refresh.go
// hold it; docs/providers/codex.md describes it.
//
// # Errors
//
// A missing file, a file with no tokens, and a sign-in whose refresh token is expired, reused or revoked
// (or any 401 from the token endpoint) are sdk.ReauthRequired, telling the user to run `codex login`. A
// damaged file (empty, not JSON, a token that is not a JWT, a non-numeric exp, a directory in its place) is
// KindInternal. An unreachable or failing endpoint is sdk.Unavailable; while the current access token has
// not expired yet, Token keeps serving it. Every message names the file or the endpoint, and none holds a
// token, a refresh token, an id_token or the endpoint's response body.
package codex
