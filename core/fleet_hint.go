package core

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
)

// fleetValue is what the store holds under "<provider>/access-token": the shared token (if any) and,
// when a host of the fleet found the token endpoint down, until when the others should not ask it.
// Embedding sdk.Token keeps the encoding of a plain shared token unchanged.
type fleetValue struct {
	sdk.Token
	// DownUntil is when the token endpoint may be asked again; zero when no host found it down.
	DownUntil time.Time `json:",omitzero"`
}

// fleetDownWhat is BreakerOpenError.What for a fetch refused because of another host's finding.
const fleetDownWhat = "token endpoint (found down by a host of the fleet; shared through the store)"

// decodeFleetValue reads a stored value; ok is false for an absent or unreadable one.
func decodeFleetValue(it store.Item) (v fleetValue, ok bool) {
	if it.Rev == "" || json.Unmarshal(it.Value, &v) != nil {
		return fleetValue{}, false
	}
	return v, true
}

// downHint returns the error to fail with when the stored value says the token endpoint is down, or nil.
// This host then does not ask its plugin: the fleet asks the endpoint about once per breaker open_for, not
// once per host.
func (s *fleetTokens) downHint(it store.Item) error {
	v, ok := decodeFleetValue(it)
	if !ok || v.DownUntil.IsZero() || !s.now().Before(v.DownUntil) {
		return nil
	}
	err := &BreakerOpenError{Provider: s.provider, What: fleetDownWhat, RetryAt: v.DownUntil}
	if s.noteErr != nil {
		s.noteErr(err)
	}
	return err
}

// endpointDown reports until when a failed fetch says the token endpoint is down: breaker open_for from
// now for an unavailable endpoint or a fetch that timed out, the retry time of this host's own open token
// breaker; ok is false for any other error (the user must sign in again, a configuration mistake, ...),
// which says nothing about the endpoint.
func (s *fleetTokens) endpointDown(err error) (until time.Time, ok bool) {
	var open *BreakerOpenError
	if errors.As(err, &open) && open.What == "token endpoint" {
		return open.RetryAt, open.RetryAt.After(s.now())
	}
	if s.openFor > 0 && endpointFault(err) {
		return s.now().Add(s.openFor), true
	}
	return time.Time{}, false
}

// markDown records in the store, under the fetch lease h, that the token endpoint is down until until,
// keeping a token stored beside it (still good for hosts that need no newer one). It wakes the hosts
// waiting for this host's fetch, which then fail fast instead of each asking the endpoint.
func (s *fleetTokens) markDown(ctx context.Context, h *fetchLease, it store.Item, until time.Time) {
	v, _ := decodeFleetValue(it)
	v.DownUntil = until
	ttl := until.Sub(s.now())
	if !v.Expiry.IsZero() {
		ttl = max(ttl, min(v.Expiry.Sub(s.now()), maxFleetTTL))
	} else if v.Value != "" {
		ttl = maxFleetTTL
	}
	b, err := json.Marshal(v)
	if err != nil || ttl <= 0 {
		return
	}
	s.storeUnder(ctx, h, it.Rev, b, ttl)
}
