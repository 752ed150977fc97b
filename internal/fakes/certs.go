package fakes

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
)

// LoopbackCertPEM returns, as PEM, a server certificate chain for localhost, 127.0.0.1 and ::1 with its
// private key (what a TLS server loads from cert_file and key_file) and the throwaway CA that signed it
// (what a client trusts).
func LoopbackCertPEM(name string) (chainPEM, keyPEM, caPEM []byte, err error) {
	ca, err := newEntraCA(name)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, der := range ca.leaf.Certificate {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	kder, err := x509.MarshalECPrivateKey(ca.leaf.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return nil, nil, nil, err
	}
	return chainPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), ca.caPEM, nil
}
