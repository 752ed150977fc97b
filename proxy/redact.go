package proxy

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sync"

	"github.com/tokenhost/tokenhost/internal/netaddr"
)

// localPath matches an absolute file path (/…, ~/…, C:\…) that starts a word: not the "//" of a URL.
var localPath = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(^|[\s"'(\[=,])(~?/[^\s"'()\[\],;:]+|[A-Za-z]:\\[^\s"'()\[\],;:]+)`)
})

// remoteCaller reports whether r came from another machine: its peer address is not loopback. A Unix
// socket peer (no host:port) is local.
func remoteCaller(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	return !netaddr.IsLoopback(host)
}

// forCaller returns msg as r's caller may see it: unchanged for a local caller, with every local file
// path replaced by "<path>" for a remote one (the full message stays in the server's own log).
func forCaller(r *http.Request, msg string) string {
	if !remoteCaller(r) {
		return msg
	}
	return localPath().ReplaceAllString(msg, "$1<path>")
}

// withoutQuery returns the URL raw without its query and fragment, which may carry keys.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}
