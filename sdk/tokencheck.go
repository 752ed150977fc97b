package sdk

import (
	"fmt"
	"net/textproto"
	"sort"

	"golang.org/x/net/http/httpguts"
)

// reservedHeaders are the headers a plugin may not set through Token.Headers: the request's routing and
// framing (Host, Content-Length, hop-by-hop headers) and credentials the host places itself.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Authorization": true, "Proxy-Authorization": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// MaxTokenBytes is the longest token Value the host accepts and the built-in plugins hand over: real
// access tokens are a few kilobytes, so a longer one is an error, never cut short.
const MaxTokenBytes = 64 << 10

// CheckToken returns an error of KindInternal naming the field when t cannot be sent as a plugin
// returned it: a Value longer than MaxTokenBytes or with characters other than visible ASCII, a header name that is not an RFC 7230
// token or is reserved (Host, Content-Length, hop-by-hop headers, Authorization), or a header value with
// control characters. An empty Value passes (the host reports it itself); Expiry and RefreshAt are left
// to the host, which owns the clock.
func CheckToken(t Token) error {
	if len(t.Value) > MaxTokenBytes {
		return Internal("Value: the token is %d bytes, more than the %d a token may have; the plugin or its identity provider returned something that is not a token",
			len(t.Value), MaxTokenBytes)
	}
	for i := 0; i < len(t.Value); i++ {
		if c := t.Value[i]; c <= ' ' || c >= 0x7f {
			return Internal("Value: the token holds a character that cannot be sent in a header (byte %d of %d is %s); the plugin or its identity provider returned a malformed token",
				i+1, len(t.Value), describeByte(c))
		}
	}
	names := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return Internal("Headers[%q]: not a valid HTTP header name (RFC 7230 token)", k)
		case reservedHeaders[textproto.CanonicalMIMEHeaderKey(k)]:
			return Internal("Headers[%q]: a plugin may not set this header (Host, Content-Length, hop-by-hop headers and Authorization are the host's)", k)
		case !httpguts.ValidHeaderFieldValue(t.Headers[k]):
			return Internal("Headers[%q]: the value holds a control character such as CR or LF", k)
		}
	}
	return nil
}

// describeByte names a byte of a token without revealing the token.
func describeByte(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c < ' ' || c == 0x7f:
		return fmt.Sprintf("control character 0x%02x", c)
	default:
		return "not ASCII"
	}
}
