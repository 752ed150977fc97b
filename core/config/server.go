package config

import (
	"net/url"
	"strings"
)

// origins checks server.allowed_origins: each entry is a web origin, scheme://host[:port] with no path,
// and is returned lower-cased as browsers send it in the Origin header.
func (d *decoder) origins(at string, raw []string) []string {
	out := make([]string, 0, len(raw))
	for i, o := range raw {
		if d.failed[index(at, i)] {
			continue
		}
		norm, msg := checkOrigin(o)
		if msg != "" {
			d.p.add(index(at, i), "%s %s", quote(o), msg)
			continue
		}
		out = append(out, norm)
	}
	return out
}

// checkOrigin returns origin normalised, or why it is not an origin.
func checkOrigin(origin string) (string, string) {
	const rule = "is not a web origin: give scheme://host[:port] exactly as the browser sends it in Origin, e.g. https://app.example.com"
	if origin == "*" || origin == "null" {
		return "", "would let any web page spend your tokens; list the origins of the pages you trust, e.g. https://app.example.com"
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(origin, "*?#") {
		return "", rule
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), ""
}
