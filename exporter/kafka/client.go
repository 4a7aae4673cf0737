package kafka

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kwindow/kwindow/exporter/config"
)

// ClientOpts returns the client options of k: seed brokers, client ID, TLS, SASL,
// fetch limits, and the Decompressor (LZ4 batches decoded without franz-go's
// pooled 4 MiB block buffers). Zero fetch limits keep franz-go's defaults, so a Kafka section
// that has not been through config defaults still works. Files named by k (CA,
// certificate, key, password) are read now: a missing or bad one is an error that
// names it.
func ClientOpts(k config.Kafka) ([]kgo.Opt, error) {
	if len(k.Brokers) == 0 {
		return nil, errors.New("kafka.brokers: no seed brokers")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.WithDecompressor(NewDecompressor(MaxBatchBytes))}
	if k.ClientID != "" {
		opts = append(opts, kgo.ClientID(k.ClientID))
	}
	if k.TLS != nil {
		tc, err := tlsConfig(k.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if k.SASL != nil {
		m, err := saslMechanism(k.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	if k.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(k.FetchMaxBytes))
	}
	if k.FetchMaxPartitionBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(k.FetchMaxPartitionBytes))
	}
	if k.FetchMaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(time.Duration(k.FetchMaxWait)))
	}
	return opts, nil
}

// saslMechanism returns the mechanism s configures, with its password read from
// PasswordFile when that is set.
func saslMechanism(s *config.SASL) (sasl.Mechanism, error) {
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.Mechanism)
}
