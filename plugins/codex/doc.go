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
// # Locking protocol
//
// Refresh tokens rotate and are single-use, so two refreshes of one token log one side out. A refresh
// therefore runs under an exclusive flock(2) on auth.json.lock beside auth.json (waiting at most
// lock_timeout), and:
//
//  1. re-reads auth.json under the lock; if its access token is not the one being replaced and is not due
//     for refresh, another process refreshed already: that token is returned, with no network call;
//  2. otherwise redeems the file's refresh token at token_url and writes the answer back before unlocking;
//  3. if the endpoint answers refresh_token_reused, re-reads the file, watching it for up to a second
//     while the program that won the race writes its answer: a usable new access token is returned, a new
//     refresh token is redeemed instead (once); only when neither changed is the user told to sign in again.
//
// Within one process, concurrent calls share one refresh (singleflight); the lock serialises tokenhost
// processes (and plugin instances) among themselves.
//
// # Interop with a running Codex CLI
//
// The Codex CLI takes no lock and rewrites auth.json in place. tokenhost never relies on it holding one:
// it re-reads the file before every refresh and skips the network when the tokens changed, it watches
// the file briefly after refresh_token_reused (the Codex CLI won the race), and it retries a read that finds the
// file empty or half written. What remains is the Codex CLI's own behaviour: a Codex process that keeps
// tokens in memory may try a refresh token tokenhost already redeemed, and then recovers (or asks for
// `codex login`) by its own rules.
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
