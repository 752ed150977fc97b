package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"path/filepath"
	"slices"

	"golang.org/x/net/http/httpguts"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/termtext"
	"github.com/tokenhost/tokenhost/sdk"
)

// askControl asks a running daemon of cfg for provider's token: answered is false when none answers or
// its socket, its directory, the user at its other end or its reply fails a check (then one line on warn
// says why, and the caller fetches the token itself); err is the daemon's own failure to get a token.
func askControl(ctx context.Context, cfg *config.Config, provider string, warn io.Writer) (ct cachedToken, answered bool, err error) {
	return askControlAt(ctx, controlPath(cfg), provider, "", warn)
}

// askControlRejected is askControl telling the daemon, when rejected is not "", that the token whose
// fingerprint it is was rejected: the daemon then refreshes it as its wrapper does after a 401.
func askControlRejected(ctx context.Context, cfg *config.Config, provider, rejected string, warn io.Writer) (ct cachedToken, answered bool, err error) {
	return askControlAt(ctx, controlPath(cfg), provider, rejected, warn)
}

// rejectedHeader names, in a question to the daemon, the fingerprint of a token its asker saw rejected.
const rejectedHeader = "Tokenhost-Rejected"

// askControlAt is askControl for the control socket at path.
func askControlAt(ctx context.Context, path, provider, rejected string, warn io.Writer) (cachedToken, bool, error) {
	if !controlSupported {
		return cachedToken{}, false, nil
	}
	refuse := func(err error) (cachedToken, bool, error) {
		fmt.Fprintln(warn, "tokenhost: not asking the running tokenhost serve: "+termtext.Line(err.Error())+"; fetching the token here")
		return cachedToken{}, false, nil
	}
	if err := checkControlDir(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
		return cachedToken{}, false, nil // no daemon has run for this user
	} else if err != nil {
		return refuse(err)
	}
	if err := checkControlSocket(path); errors.Is(err, fs.ErrNotExist) {
		return cachedToken{}, false, nil // none runs for this configuration
	} else if err != nil {
		return refuse(err)
	}
	c := &http.Client{Timeout: controlTimeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
			if err != nil {
				return nil, err
			}
			if err := checkControlPeer(conn); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://tokenhost/token/"+provider, nil)
	if rejected != "" {
		req.Header.Set(rejectedHeader, rejected)
	}
	resp, err := c.Do(req)
	var pe *peerError
	if errors.As(err, &pe) {
		return refuse(fmt.Errorf("%w (socket %s); stop that process and restart tokenhost serve", pe, path))
	}
	if err != nil {
		return cachedToken{}, false, nil // no daemon (or a dead one's socket): fetch here
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return cachedToken{}, true, errors.New(e.Error)
		}
		return cachedToken{}, true, fmt.Errorf("the running tokenhost serve answered %d", resp.StatusCode)
	}
	var ct cachedToken
	if err := json.NewDecoder(resp.Body).Decode(&ct); err != nil || ct.Token.Value == "" {
		return cachedToken{}, false, nil
	}
	if err := checkControlReply(ct); err != nil {
		return refuse(fmt.Errorf("its answer on %s is unusable: %w", path, err))
	}
	return ct, true, nil
}

// routingHeaders are header names a token's headers never have: the request's routing and framing.
var routingHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true,
}

// checkControlReply returns nil when ct can be printed as the daemon sent it: the token passes
// sdk.CheckToken (visible ASCII, valid extra headers), and every header is a valid HTTP header, each
// either one of the token's own or the one credential header, which is no routing or framing header. Its
// errors name valid headers only, and never a value.
func checkControlReply(ct cachedToken) error {
	if err := sdk.CheckToken(ct.Token); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	credential := ""
	for _, k := range slices.Sorted(maps.Keys(ct.Headers)) {
		v := ct.Headers[k]
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return fmt.Errorf("a header name of %d bytes is not a valid HTTP header name", len(k))
		case !httpguts.ValidHeaderFieldValue(v):
			return fmt.Errorf("the value of header %q holds a control character such as CR or LF", k)
		}
		if tv, ok := ct.Token.Headers[k]; ok && tv == v {
			continue
		}
		switch {
		case credential != "":
			return fmt.Errorf("headers %q and %q both claim to carry the credential", credential, k)
		case routingHeaders[textproto.CanonicalMIMEHeaderKey(k)]:
			return fmt.Errorf("header %q routes or frames a request and never carries a token", k)
		}
		credential = k
	}
	return nil
}
