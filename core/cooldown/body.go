package cooldown

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// errorBody is the part of a JSON error answer that names a reset: the ChatGPT backend's usage limit or a
// Google error's details. Every field is read on its own, so that one of an unexpected shape spoils no
// other.
type errorBody struct {
	Type            json.RawMessage `json:"type"`
	ResetsAt        json.RawMessage `json:"resets_at"`
	ResetsInSeconds json.RawMessage `json:"resets_in_seconds"`
	Details         json.RawMessage `json:"details"`
}

// retryInfoType is the @type of a Google RetryInfo detail.
const retryInfoType = "type.googleapis.com/google.rpc.RetryInfo"

// fromBody offers l the resets a JSON error body names: {"error": {...}}, or an array of such objects as
// Google's streaming endpoints answer.
func fromBody(l *latest, body []byte, now time.Time) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return
	}
	var outer []struct {
		Error json.RawMessage `json:"error"`
	}
	if body[0] == '{' {
		body = append(append([]byte{'['}, body...), ']')
	}
	if body[0] != '[' || json.Unmarshal(body, &outer) != nil {
		return
	}
	for _, o := range outer {
		var e errorBody
		if json.Unmarshal(o.Error, &e) != nil {
			continue
		}
		if str(e.Type) == "usage_limit_reached" {
			if at, ok := jsonNumber(e.ResetsAt); ok {
				l.offer(scale(at-unixSeconds(now), time.Second), SourceUsageLimit)
			}
			if in, ok := jsonNumber(e.ResetsInSeconds); ok {
				l.offer(scale(in, time.Second), SourceUsageLimit)
			}
		}
		var details []struct {
			Type       json.RawMessage `json:"@type"`
			RetryDelay json.RawMessage `json:"retryDelay"`
		}
		if json.Unmarshal(e.Details, &details) != nil {
			continue
		}
		for _, d := range details {
			if str(d.Type) != retryInfoType {
				continue
			}
			if delay, ok := duration(str(d.RetryDelay)); ok {
				l.offer(delay, SourceRetryInfo)
			}
		}
	}
}

// unixSeconds is now as fractional seconds since the Unix epoch.
func unixSeconds(now time.Time) float64 {
	return float64(now.Unix()) + float64(now.Nanosecond())/1e9
}

// str is raw as a JSON string, or "" when it is not one.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// jsonNumber is raw as a JSON number, or as a string holding a decimal number; ok is false otherwise.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return f, true
	}
	v := strings.TrimSpace(str(raw))
	if !decimal(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}
