/*
Copyright The vm-apiserver Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// testCA signs serving certificates for the deployment tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vm-apiserver-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

var serialCounter = big.NewInt(100)

// issue makes a serving certificate for vm-apiserver's Service name,
// localhost and 127.0.0.1 and returns it, its key (PEM) and its serial.
func (ca *testCA) issue(t *testing.T) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial = new(big.Int).Add(serialCounter, big.NewInt(1))
	serialCounter = serial
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "vm-apiserver.vm-system.svc"},
		DNSNames:    []string{"vm-apiserver.vm-system.svc", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), serial
}

// writeServingCertificate writes tls.crt, tls.key and ca.crt into dir, as
// docs/install.md has an operator do for the own-certificate overlay, and
// returns the CA certificate.
func writeServingCertificate(t *testing.T, dir string) []byte {
	t.Helper()
	ca := newTestCA(t)
	certPEM, keyPEM, _ := ca.issue(t)
	for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": ca.pem} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca.pem
}

// secretVolume lays out files the way the kubelet mounts a Secret: each
// name is a symlink into ..data, itself a symlink to a timestamped
// directory; an update writes a new directory and swaps ..data atomically.
type secretVolume struct {
	dir     string
	version int
}

func (v *secretVolume) write(t *testing.T, files map[string][]byte) {
	t.Helper()
	v.version++
	data := fmt.Sprintf("..%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, data), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(v.dir, data, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(data, filepath.Join(v.dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(v.dir, "..data_tmp"), filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v.version > 1 {
		if err := os.RemoveAll(filepath.Join(v.dir, fmt.Sprintf("..%d", v.version-1))); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial is the serial of the certificate a TLS handshake with addr
// gets, verified against roots.
func servedSerial(addr string, roots *x509.CertPool) (*big.Int, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "vm-apiserver.vm-system.svc"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestDeployServingCertificateRotation runs vm-apiserver on a certificate
// mounted the way the kubelet mounts a Secret, renews the certificate under
// it twice (a new key each time, as cert-manager's rotationPolicy Always
// does), and checks that the running process serves each new certificate
// without a restart and keeps answering.
func TestDeployServingCertificateRotation(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	vol := &secretVolume{dir: t.TempDir()}
	certPEM, keyPEM, serial := ca.issue(t)
	vol.write(t, map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": ca.pem})

	server, err := env.StartServerProcess(ctx, "vm-apiserver-rotation",
		"--tls-cert-file="+filepath.Join(vol.dir, "tls.crt"),
		"--tls-private-key-file="+filepath.Join(vol.dir, "tls.key"),
		"--shutdown-delay-duration=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Stop() })
	pid := server.PID()
	addr := server.URL[len("https://"):]

	got, err := servedSerial(addr, roots)
	if err != nil || got.Cmp(serial) != 0 {
		t.Fatalf("served serial %v (%v), want %v", got, err, serial)
	}
	for round := 1; round <= 2; round++ {
		certPEM, keyPEM, serial = ca.issue(t)
		renewed := time.Now()
		vol.write(t, map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": ca.pem})
		// The dynamic certificate controller reacts to the file change;
		// it also re-reads the files every minute, hence the bound.
		var last *big.Int
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
			last, _ = servedSerial(addr, roots)
			return last != nil && last.Cmp(serial) == 0, nil
		})
		if err != nil {
			t.Fatalf("round %d: still serving serial %v, want %v", round, last, serial)
		}
		t.Logf("round %d: new certificate served %v after the files changed", round, time.Since(renewed).Round(time.Millisecond))
		if server.Exited() || server.PID() != pid {
			t.Fatalf("round %d: the server restarted", round)
		}
		if !server.Ready(ctx) {
			t.Fatalf("round %d: not ready after the rotation", round)
		}
	}
}
