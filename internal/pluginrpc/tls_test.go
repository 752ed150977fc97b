//go:build unix

package pluginrpc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// pluginSide gives this process what HostTLS gave the plugin's command — its environment, and the key's
// pipe under a descriptor of this process — and returns the plugin's server config.
func pluginSide(t *testing.T, cmd *exec.Cmd) *tls.Config {
	t.Helper()
	for _, kv := range cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	fd, err := syscall.Dup(int(cmd.ExtraFiles[len(cmd.ExtraFiles)-1].Fd())) // pluginTLS closes what it reads
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envPluginTLS, "fd:"+strconv.Itoa(fd))
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
	host, cmd := mustHostTLS(t)
	plugin := pluginSide(t, cmd)
	if err := handshake(host, plugin); err != nil {
		t.Fatalf("host and its plugin: %v", err)
	}
	// The other way round, as the plugin dials what the host serves over go-plugin's broker (host storage).
	if err := handshake(plugin, host); err != nil {
		t.Fatalf("the plugin dialling its host's broker service: %v", err)
	}
	for _, c := range []*x509.Certificate{host.Certificates[0].Leaf, plugin.Certificates[0].Leaf} {
		if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Fatalf("certificate key %T, want ECDSA on P-256", c.PublicKey)
		}
	}
	other, otherCmd := mustHostTLS(t)
	if err := handshake(other, plugin); err == nil {
		t.Fatal("a host with another plugin's credentials connected")
	}
	if err := handshake(plugin, other); err == nil {
		t.Fatal("the plugin accepted another host's broker service")
	}
	if err := handshake(host, pluginSide(t, otherCmd)); err == nil {
		t.Fatal("the host accepted another plugin's certificate")
	}
}

// The key never travels in the environment; Serve's TLS provider removes the variable naming its pipe
// (its helpers never inherit it) and leaves the connection to go-plugin's AutoMTLS when the host gave no
// key (a host from before HostTLS).
func TestPluginTLSRemovesItsKeyAndFallsBackToAutoMTLS(t *testing.T) {
	_, cmd := mustHostTLS(t)
	for _, kv := range cmd.Env {
		if strings.Contains(kv, "PRIVATE KEY") {
			t.Fatalf("the plugin's environment holds its key: %.40s…", kv)
		}
	}
	pluginSide(t, cmd)
	if _, ok := os.LookupEnv(envPluginTLS); ok {
		t.Fatalf("%s is still in the plugin's environment", envPluginTLS)
	}
	t.Setenv(envHostCert, "an older host's certificate")
	if conf, err := pluginTLS(); conf != nil || err != nil {
		t.Fatalf("without a key from the host: %v, %v; want nil, nil (go-plugin makes its own)", conf, err)
	}
	for _, bad := range []string{"not a descriptor", "fd:1"} {
		t.Setenv(envPluginTLS, bad)
		if _, err := pluginTLS(); err == nil || !strings.Contains(err.Error(), envPluginTLS) {
			t.Fatalf("%s=%s: %v, want an error naming %s", envPluginTLS, bad, err, envPluginTLS)
		}
	}
}

func mustHostTLS(t *testing.T) (*tls.Config, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command("plugin")
	conf, release, err := HostTLS(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	env := cmd.Env
	if len(env) != 2 || !strings.HasPrefix(env[0], envHostCert+"=") || env[1] != envPluginTLS+"=fd:3" || len(cmd.ExtraFiles) != 1 {
		t.Fatalf("HostTLS gave the command %d variables and %d files, want %s, %s=fd:3 and one pipe", len(env), len(cmd.ExtraFiles), envHostCert, envPluginTLS)
	}
	return conf, cmd
}
