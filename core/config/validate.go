package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tokenhost/tokenhost/internal/netaddr"
	"github.com/tokenhost/tokenhost/internal/suggest"
)

// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var (
	providerName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`) })
	sha256Hex    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{64}$`) })
	hostPattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\*\.)?[a-z0-9_.\-:\[\]]+$`) })
	envName      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`) })
)

// validName reports whether name may name a provider: it is a URL path segment and a metric label.
func validName(name string) bool { return providerName().MatchString(name) }

// validSHA256 reports whether s is a hex SHA-256 digest.
func validSHA256(s string) bool { return sha256Hex().MatchString(s) }

// validHost reports whether h (lower-cased) is a host, host:port, [ipv6]:port or *.domain entry.
func validHost(h string) bool {
	return hostPattern().MatchString(h) && !strings.HasPrefix(strings.TrimPrefix(h, "*."), ".")
}

// validToken reports whether s is an HTTP token (RFC 9110), as header names and auth schemes must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidateListen checks a proxy listen address against the server block s: it must be host:port, and a
// non-loopback host needs at least one API key and TLS (or InsecurePlaintext). The CLI calls it again
// after --listen overrides server.listen.
func ValidateListen(listen string, s Server) error {
	if msg := listenProblem(listen, s); msg != "" {
		return errors.New("server.listen: " + msg)
	}
	return nil
}

// listenProblem returns why listen is not acceptable with the server block s, or "".
func listenProblem(listen string, s Server) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return quote(listen) + " is not host:port (e.g. 127.0.0.1:8787)"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return quote(listen) + " has an invalid port (0-65535)"
	}
	if netaddr.IsLoopback(host) {
		return ""
	}
	if len(s.APIKeys) == 0 {
		return listen + " is not a loopback address; set server.api_keys to expose the proxy"
	}
	if !s.TLS.Enabled() && !s.InsecurePlaintext {
		return listen + " is not a loopback address and server.tls is not set: set server.tls.cert_file and server.tls.key_file, or server.insecure_plaintext: true to serve plain HTTP (keys and answers readable on the network) on purpose"
	}
	return ""
}

// checkUpstream returns why raw is not an acceptable upstream base URL, or "".
func checkUpstream(raw string) string {
	const rule = "must be an https URL (http is allowed only for loopback hosts)"
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return rule + ", e.g. https://llm.example.com/v1"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && netaddr.IsLoopback(u.Hostname()):
	default:
		return rule
	}
	if u.User != nil {
		return "must not contain credentials (user:password@); give them through the plugin's options"
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		return "must not contain a #fragment"
	}
	return ""
}

// plugin resolves a provider's plugin value: a built-in name, or a path (anything containing a path
// separator or starting with "." or "~"), made absolute relative to the configuration file.
func (d *decoder) plugin(at, v string) (resolved string, isPath bool) {
	if v == "" {
		d.p.add(at, "required: the name of a built-in plugin (%s) or the path to a plugin executable", d.builtinList())
		return "", false
	}
	if strings.ContainsRune(v, '/') || strings.ContainsRune(v, filepath.Separator) ||
		strings.HasPrefix(v, ".") || strings.HasPrefix(v, "~") {
		p, err := d.path(v)
		if err != nil {
			d.p.add(at, "%s: %v", quote(v), err)
			return "", true
		}
		return p, true
	}
	if slices.Contains(d.s.Builtins, v) {
		return v, false
	}
	hint := ""
	if s := suggest.Closest(v, d.s.Builtins); s != "" {
		hint = fmt.Sprintf("did you mean %q? ", s)
	}
	d.p.add(at, "unknown plugin %s (%sbuilt-in plugins: %s)", quote(v), hint, d.builtinList())
	return "", false
}
