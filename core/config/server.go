package config

import (
	"fmt"
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

// serverTLS checks server.tls: cert_file and key_file come together, as paths relative to the config file.
func (d *decoder) serverTLS(at string, r rawServerTLS) ServerTLS {
	d.unknownKeys(at, r.Unknown, knownKeys(r))
	var t ServerTLS
	for _, f := range []struct {
		key, v string
		dst    *string
	}{{"cert_file", r.CertFile, &t.CertFile}, {"key_file", r.KeyFile, &t.KeyFile}} {
		if f.v == "" {
			continue
		}
		p, err := d.path(f.v)
		if err != nil {
			d.p.add(at+"."+f.key, "%s: %v", quote(f.v), err)
			continue
		}
		*f.dst = p
	}
	switch {
	case r.CertFile != "" && r.KeyFile == "":
		d.p.add(at+".key_file", "required with %s.cert_file: the PEM file of the certificate's private key", at)
	case r.KeyFile != "" && r.CertFile == "":
		d.p.add(at+".cert_file", "required with %s.key_file: the PEM file of the certificate chain", at)
	}
	return t
}

// boolValue accepts a YAML boolean or, as environment overrides give it, the string true or false.
func boolValue(v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("must be true or false, got %s", quote(fmt.Sprint(v)))
}
