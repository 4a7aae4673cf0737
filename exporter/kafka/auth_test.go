package kafka

import (
	"context"
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
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
)

// roundTrip produces one record to topic t with a client built from k and
// consumes it back.
func roundTrip(ctx context.Context, k config.Kafka) error {
	opts, err := ClientOpts(k)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RetryTimeout(3*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	// Ping tries each broker once, so an authentication or TLS failure comes back
	// as it is instead of being retried until ctx expires.
	if err := cl.Ping(ctx); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("hello")}).FirstErr(); err != nil {
		return err
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		if recs := fs.Records(); len(recs) > 0 {
			if string(recs[0].Value) != "hello" {
				return fmt.Errorf("consumed %q, want hello", recs[0].Value)
			}
			return nil
		}
	}
}

func TestSASL(t *testing.T) {
	passFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		sasl     config.SASL
		wantAuth bool // an authentication failure
	}{
		{"plain", config.SASL{Mechanism: "PLAIN", Username: "kwindow", Password: "s3cret"}, false},
		{"plain wrong password", config.SASL{Mechanism: "PLAIN", Username: "kwindow", Password: "wrong"}, true},
		{"scram-sha-256", config.SASL{Mechanism: "SCRAM-SHA-256", Username: "kwindow", Password: "s3cret"}, false},
		{"scram-sha-256 password file", config.SASL{Mechanism: "SCRAM-SHA-256", Username: "kwindow", PasswordFile: passFile}, false},
		{"scram-sha-256 wrong password", config.SASL{Mechanism: "SCRAM-SHA-256", Username: "kwindow", Password: "wrong"}, true},
		{"scram-sha-512", config.SASL{Mechanism: "SCRAM-SHA-512", Username: "kwindow", Password: "s3cret"}, false},
		{"scram-sha-512 wrong user", config.SASL{Mechanism: "SCRAM-SHA-512", Username: "nobody", Password: "s3cret"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(tt.sasl.Mechanism, "kwindow", "s3cret"), kfake.SeedTopics(1, "t"))
			s := tt.sasl
			err := roundTrip(testContext(t), config.Kafka{Brokers: c.ListenAddrs(), SASL: &s})
			switch {
			case !tt.wantAuth && err != nil:
				t.Fatal(err)
			case tt.wantAuth && !isAuthFailure(err):
				t.Fatalf("error %v, want an authentication failure", err)
			}
		})
	}
}

// isAuthFailure says whether err is how a broker refuses credentials: Kafka
// answers SASL_AUTHENTICATION_FAILED, kfake closes the connection in the middle
// of the SASL exchange (io.EOF). The cases that succeed against the same kind of
// cluster show that the EOF is the refusal.
func isAuthFailure(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, io.EOF)
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c := newCluster(t, kfake.SeedTopics(1, "t"), kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name    string
		tls     config.TLS
		wantErr string // substring; empty: the round trip works
	}{
		{"mutual", config.TLS{CAFile: certFile, CertFile: certFile, KeyFile: keyFile}, ""},
		{"insecure skip verify", config.TLS{InsecureSkipVerify: true, CertFile: certFile, KeyFile: keyFile}, ""},
		{"server name", config.TLS{CAFile: certFile, CertFile: certFile, KeyFile: keyFile, ServerName: "kafka.test"}, ""},
		{"wrong server name", config.TLS{CAFile: certFile, CertFile: certFile, KeyFile: keyFile, ServerName: "other.test"}, "certificate is valid for"},
		{"system roots", config.TLS{CertFile: certFile, KeyFile: keyFile}, "certificate signed by unknown authority"},
		{"no client certificate", config.TLS{CAFile: certFile}, "certificate required"},
		{"missing CA", config.TLS{CAFile: missing}, "kafka.tls.ca_file: open " + missing},
		{"garbage CA", config.TLS{CAFile: garbage}, "kafka.tls.ca_file: no PEM certificate in " + garbage},
		{"garbage certificate", config.TLS{CertFile: garbage, KeyFile: keyFile}, "kafka.tls.cert_file: no PEM certificate in " + garbage},
		{"missing key", config.TLS{CertFile: certFile, KeyFile: missing}, "kafka.tls.key_file: open " + missing},
		{"key is not the certificate's", config.TLS{CertFile: certFile, KeyFile: certFile}, "kafka.tls.key_file: " + certFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tc := tt.tls
			err := roundTrip(ctx, config.Kafka{Brokers: c.ListenAddrs(), TLS: &tc})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and kafka.test,
// usable by both the broker and the client, to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kwindow test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"kafka.test"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}
