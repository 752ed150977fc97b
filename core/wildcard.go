package core

import (
	"net"
	"net/url"
	"strings"
)

// wildcard is a "*.domain[:port]" allowed_hosts entry: any subdomain of domain, on port (443 when the
// entry names none), over https.
type wildcard struct {
	suffix string // ".domain"
	port   string
}

// parseWildcard reads a lower-case "*.domain" or "*.domain:port" entry already checked by
// config.AllowedHostProblem.
func parseWildcard(h string) wildcard {
	rest := strings.TrimPrefix(h, "*")
	if host, port, err := net.SplitHostPort(rest); err == nil {
		return wildcard{suffix: host, port: port}
	}
	return wildcard{suffix: rest, port: "443"}
}

// matches reports whether u is an https URL on a strict subdomain of the wildcard's domain and its port.
func (w wildcard) matches(u *url.URL) bool {
	if u.Scheme != "https" {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	host := strings.ToLower(u.Hostname())
	return port == w.port && strings.HasSuffix(host, w.suffix) && len(host) > len(w.suffix)
}
