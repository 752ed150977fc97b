package proxy

import (
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/core/config"
)

// The server bounds slow headers and idle keep-alive connections, and has no read or write timeout that
// would cut a long upload or a streamed answer.
func TestServerTimeoutsNeverCutAStream(t *testing.T) {
	srv := NewServer(nil, nil)
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("ReadHeaderTimeout %v, IdleTimeout %v: both must be set", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
	if srv.ReadTimeout != 0 || srv.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %v, WriteTimeout %v: either would cut a stream", srv.ReadTimeout, srv.WriteTimeout)
	}
}

func TestLoadTLSNamesTheKeysOnError(t *testing.T) {
	if c, err := LoadTLS(config.ServerTLS{}); c != nil || err != nil {
		t.Fatalf("no TLS configured: %v %v", c, err)
	}
	_, err := LoadTLS(config.ServerTLS{CertFile: t.TempDir() + "/missing.pem", KeyFile: "k.pem"})
	if err == nil || !contains(err.Error(), "server.tls", "cert_file", "missing.pem") {
		t.Fatalf("error %v", err)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
