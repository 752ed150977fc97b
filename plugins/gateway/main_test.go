package gateway

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"github.com/tokenhost/tokenhost/plugins/internal/reach"
)

// publicTestAddr is the loopback address the tests treat as public, so that an MCP server listening there
// plays one on the internet; every other loopback address stays private.
var publicTestAddr = netip.MustParseAddr("127.0.0.2")

// TestMain keeps the log lines of zitadel's example OP (which logs every request through slog's default
// logger) and the plugin's own out of test output, and makes publicTestAddr count as public.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	publicAddr = func(a netip.Addr) bool { return a.Unmap() == publicTestAddr || reach.IsPublic(a) }
	os.Exit(m.Run())
}

// serveAt starts a test server for h on the loopback address ip, counting its connections in conns when
// conns is not nil, and closes it when the test ends.
func serveAt(t *testing.T, ip string, conns *atomic.Int32, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	if conns != nil {
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
