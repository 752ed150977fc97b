package pluginrpc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The connection between a host and a plugin process is mutual TLS, as with go-plugin's AutoMTLS, but the
// host makes both key pairs, on P-256: AutoMTLS makes a P-521 key on each side for every start, and P-521
// (generating, signing and above all verifying) was half of a plugin's CPU time from exec to Configure.
// The plugin's certificate and key reach it on a pipe it inherits (never in its environment, which
// /proc/<pid>/environ would show for the process's whole life); the environment only names the pipe's
// descriptor. A plugin built with an older sdk ignores it and answers with its own P-521 certificate in
// the go-plugin handshake line, which go-plugin's client then trusts instead, as under AutoMTLS.
const (
	// envPluginTLS names the descriptor ("fd:3") on which the plugin reads its certificate and key (PEM).
	envPluginTLS = "TOKENHOST_PLUGIN_TLS"
	// envHostCert is go-plugin's variable for the host's certificate (PEM), the one the plugin trusts.
	envHostCert = "PLUGIN_CLIENT_CERT"
	// maxTLSPEM bounds what a plugin reads from the pipe (a P-256 certificate and key are under 1 KiB).
	maxTLSPEM = 16 << 10
)

// certLife is how long the certificates are valid: longer than any plugin process lives, since gRPC may
// reconnect at any time.
const certLife = 10 * 365 * 24 * time.Hour

// HostTLS makes the credentials of one plugin process's connection — a fresh P-256 key and self-signed
// certificate for the host and another for the plugin — and gives cmd the plugin's side: the host's
// certificate in its environment, its own key on an inherited pipe. It returns the TLS config the host
// dials the plugin with (go-plugin's ClientConfig.TLSConfig, in place of AutoMTLS) and a release func to
// call once cmd has started (or failed to), which closes the host's end of the pipe. Where a child cannot
// inherit a pipe (Windows) it returns a nil config, and the host uses go-plugin's AutoMTLS instead.
func HostTLS(cmd *exec.Cmd) (*tls.Config, func(), error) {
	if runtime.GOOS == "windows" {
		return nil, func() {}, nil
	}
	host, _, err := selfSigned()
	if err != nil {
		return nil, nil, fmt.Errorf("making the host's TLS certificate for a plugin: %w", err)
	}
	plugin, pluginPEM, err := selfSigned()
	if err != nil {
		return nil, nil, fmt.Errorf("making a plugin's TLS certificate: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("making the pipe that hands a plugin its TLS key: %w", err)
	}
	_, err = w.Write(pluginPEM) // far below a pipe's buffer: never blocks
	w.Close()
	if err != nil {
		r.Close()
		return nil, nil, fmt.Errorf("handing a plugin its TLS key: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is the child's descriptor 3+i
	hostCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: host.Certificate[0]})
	cmd.Env = append(cmd.Env, envHostCert+"="+string(hostCert), envPluginTLS+"=fd:"+strconv.Itoa(fd))
	roots := x509.NewCertPool()
	roots.AddCert(plugin.Leaf)
	// The host dials the plugin, and serves the plugin what it offers over go-plugin's broker (host
	// storage), so its config works both ways: it trusts only this plugin's certificate either way.
	conf := &tls.Config{
		Certificates: []tls.Certificate{host},
		RootCAs:      roots,
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ServerName:   certName,
		MinVersion:   tls.VersionTLS12,
	}
	return conf, func() { r.Close() }, nil
}

// pluginTLS is the plugin side of HostTLS, go-plugin's ServeConfig.TLSProvider: the server config for the
// certificate the host made, read from the inherited pipe and trusting only the host's certificate. It
// returns nil when the host made none (an older host using AutoMTLS), and go-plugin then makes its own.
// The pipe is closed and the variable removed, so no helper the plugin starts inherits either.
func pluginTLS() (*tls.Config, error) {
	ref := os.Getenv(envPluginTLS)
	os.Unsetenv(envPluginTLS)
	if ref == "" {
		return nil, nil
	}
	keyPEM, err := readInherited(ref)
	if err != nil {
		return nil, fmt.Errorf("cannot read the TLS certificate the tokenhost host gave this plugin (%s=%s): %w; start the plugin from a tokenhost host", envPluginTLS, ref, err)
	}
	cert, err := tls.X509KeyPair(keyPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the TLS certificate the tokenhost host gave this plugin (%s) does not load: %w; is the host's tokenhost version one this plugin's sdk supports?", envPluginTLS, err)
	}
	hosts := x509.NewCertPool()
	if !hosts.AppendCertsFromPEM([]byte(os.Getenv(envHostCert))) {
		return nil, errors.New("the tokenhost host gave this plugin a TLS certificate (" + envPluginTLS + ") but none of its own (" + envHostCert + "); start the plugin from a tokenhost host")
	}
	// Both ways too: the plugin serves the host, and dials the host's broker services (host storage).
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    hosts,
		RootCAs:      hosts,
		ServerName:   certName,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// readInherited reads everything on the inherited descriptor ref names ("fd:3") and closes it.
func readInherited(ref string) ([]byte, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(ref, "fd:"))
	if !strings.HasPrefix(ref, "fd:") || err != nil || n < 3 {
		return nil, errors.New("not an inherited descriptor")
	}
	f := os.NewFile(uintptr(n), "tokenhost-plugin-tls")
	if f == nil {
		return nil, errors.New("no such descriptor")
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxTLSPEM))
}

// certName is the name in both certificates, the one the host expects of the plugin (as go-plugin's).
const certName = "localhost"

// selfSigned makes a P-256 key and a self-signed certificate for certName usable by either end of a TLS
// connection; it returns it loaded, and as PEM (certificate, then key).
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: certName, Organization: []string{"tokenhost plugin connection"}},
		DNSNames:              []string{certName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(certLife),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	var buf bytes.Buffer
	_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&buf, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(buf.Bytes(), buf.Bytes())
	return cert, buf.Bytes(), err
}
