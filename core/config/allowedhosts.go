package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// AllowedHostProblem returns why h (lower case, trimmed) cannot be an allowed_hosts entry, or "" when it
// can. It is used for the config's entries and for the AllowedHosts a plugin reports, so both follow one
// rule: a host, host:port, [ipv6]:port, or *.domain[:port] whose domain is not a public suffix (*.com,
// *.co.uk, *.github.io would hand the token to every site registered under it).
func AllowedHostProblem(h string) string {
	if !validHost(h) {
		return fmt.Sprintf("%s is not a host name; write the host alone (llm.corp.example, llm.corp.example:8443 or *.corp.example)", quote(h))
	}
	domain, ok := strings.CutPrefix(h, "*.")
	if !ok {
		return ""
	}
	if host, port, err := net.SplitHostPort(domain); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%s: the port must be a number from 1 to 65535", quote(h))
		}
		domain = host
	} else if strings.Contains(domain, ":") {
		return fmt.Sprintf("%s is not a host name; write *.domain or *.domain:port", quote(h))
	}
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" || strings.ContainsAny(domain, "*[]") || net.ParseIP(domain) != nil {
		return fmt.Sprintf("%s: a wildcard needs a domain name after \"*.\"", quote(h))
	}
	if suffix, _ := publicsuffix.PublicSuffix(domain); suffix == domain {
		return fmt.Sprintf("%s: %s is a public suffix, so the wildcard would send the token to every site registered under it; list the hosts, or a domain you control (*.corp.example)", quote(h), domain)
	}
	return ""
}
