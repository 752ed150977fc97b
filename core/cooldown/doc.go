// Package cooldown decides how long a rate-limited member of a provider group rests, and remembers it.
//
// FromResponse reads a 429 answer for the time its upstream names:
//   - Retry-After as delay seconds or as an HTTP date (RFC 9110, section 10.2.3);
//   - retry-after-ms, milliseconds (OpenAI and Azure OpenAI);
//   - x-ratelimit-reset-requests and x-ratelimit-reset-tokens, durations written the way Go prints them
//     ("1s", "6m0s", "20ms", "1m30.5s"; a bare number is seconds);
//   - the ChatGPT backend's JSON body {"error":{"type":"usage_limit_reached","resets_at":<unix seconds>,
//     "resets_in_seconds":<n>}}, either field;
//   - a Google error body (a JSON object, or an array of them as streaming endpoints send) whose
//     error.details hold a type.googleapis.com/google.rpc.RetryInfo with retryDelay ("12s", "0.5s").
//
// When an answer names several resets, the latest wins: a member is rested until every limit it reported
// has reset. A reset is at most MaxCooldown ahead; a negative delay, a delay of zero and a date that has
// passed name no rest (the answer failed, so the caller applies Backoff instead of retrying at once), and
// a value that does not parse is ignored. No input makes FromResponse panic.
//
// The parsers are written here because no library reads these headers and bodies together: the standard
// library parses HTTP dates (http.ParseTime) and JSON, and the rest is a few lines each.
//
// A Book records cooldowns. NewLocal keeps them in this process; NewShared also keeps them in the fleet's
// store, so every host rests a member that one host saw limited, and learns of it without asking the store
// on each request.
package cooldown
