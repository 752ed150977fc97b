package sdk

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
)

// pluginSide sets the environment HostTLS made for a plugin and returns the plugin's server config.
func pluginSide(t *testing.T, env []string) *tls.Config {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	conf, err := pluginTLS()
	if err != nil || conf == nil {
		t.Fatalf("pluginTLS with the host's environment: %v, %v", conf, err)
	}
	return conf
}

// handshake runs a TLS handshake between client and server over an in-memory connection and returns
// the client's error, or the server's when the client saw none.
func handshake(client, server *tls.Config) error {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		srv := tls.Server(s, server)
		err := srv.Handshake()
		s.Close() // unblocks a client still waiting when the server refused it
		done <- err
	}()
	cerr := tls.Client(c, client).Handshake()
	c.Close()
	if serr := <-done; cerr == nil {
		return serr
	}
	return cerr
}

// The host and the plugin it made credentials for connect, on P-256 keys; a host with other credentials
// (another plugin's) is refused by the plugin, and a host does not accept another plugin's certificate.
func TestHostTLSConnectsOnlyItsOwnPlugin(t *testing.T) {
	host, env := mustHostTLS(t)
	plugin := pluginSide(t, env)
	if err := handshake(host, plugin); err != nil {
		t.Fatalf("host and its plugin: %v", err)
	}
	for _, c := range []*x509.Certificate{host.Certificates[0].Leaf, plugin.Certificates[0].Leaf} {
		if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Fatalf("certificate key %T, want ECDSA on P-256", c.PublicKey)
		}
	}
	other, otherEnv := mustHostTLS(t)
	if err := handshake(other, plugin); err == nil {
		t.Fatal("a host with another plugin's credentials connected")
	}
	if err := handshake(host, pluginSide(t, otherEnv)); err == nil {
		t.Fatal("the host accepted another plugin's certificate")
	}
}

// Serve's TLS provider removes the plugin's key from the environment (its helpers never inherit it) and
// leaves the connection to go-plugin's AutoMTLS when the host gave no key (a host from before HostTLS).
func TestPluginTLSRemovesItsKeyAndFallsBackToAutoMTLS(t *testing.T) {
	_, env := mustHostTLS(t)
	pluginSide(t, env)
	if _, ok := os.LookupEnv(envPluginTLS); ok {
		t.Fatalf("%s is still in the plugin's environment", envPluginTLS)
	}
	t.Setenv(envHostCert, "an older host's certificate")
	if conf, err := pluginTLS(); conf != nil || err != nil {
		t.Fatalf("without a key from the host: %v, %v; want nil, nil (go-plugin makes its own)", conf, err)
	}
	t.Setenv(envPluginTLS, "not a certificate")
	if _, err := pluginTLS(); err == nil || !strings.Contains(err.Error(), envPluginTLS) {
		t.Fatalf("a key that does not load: %v, want an error naming %s", err, envPluginTLS)
	}
}

func mustHostTLS(t *testing.T) (*tls.Config, []string) {
	t.Helper()
	conf, env, err := HostTLS()
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 2 || !strings.HasPrefix(env[0], envHostCert+"=") || !strings.HasPrefix(env[1], envPluginTLS+"=") {
		t.Fatalf("HostTLS environment has %d entries, want %s and %s", len(env), envHostCert, envPluginTLS)
	}
	return conf, env
}
