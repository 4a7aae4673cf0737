package broker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/kafka"
)

// DefaultAddr is where the broker listens unless told otherwise: the address
// kwindow's configuration uses by default.
const DefaultAddr = "127.0.0.1:9092"

// Options configure the broker; the zero value is valid.
type Options struct {
	// Addr is host:port on a loopback address; DefaultAddr when empty. Port 0
	// picks a free port (see Broker.Addr).
	Addr string
	// DataDir, when set, keeps the broker's data there and reloads it at start,
	// so topics, records and committed offsets survive a restart.
	DataDir string
	// Partitions of the seeded topics and of topics created without a
	// partition count (auto-created, or CreateTopics with -1). Default 6.
	Partitions int32
	// Topics are created at start with Partitions partitions (topics that
	// already exist in DataDir are left as they are).
	Topics []string
	// Logf receives the broker's warnings and errors; nil discards them.
	Logf func(format string, args ...any)
}

// brokerConfigs are the broker configs the embedded broker starts with.
//
// kfake's log cleaner runs every log.cleaner.backoff.ms, 1h by default; 15s (real
// Kafka's default) keeps compacted changelogs small, so that restoring from them
// is fast and memory stays bounded. kfake frees a partition's memory only a whole
// segment at a time, when DeleteRecords or retention moves the log start past the
// segment's last record; 8 MiB segments instead of 100 MiB make Trim give memory
// back in small steps.
//
// Time retention is deliberately left at its default (7 days): kfake applies
// retention.ms to compacted topics too, so lowering it broker-wide would delete
// changelog records that a restore still needs. Input topics are trimmed by Trim
// instead.
var brokerConfigs = map[string]string{
	"log.cleaner.backoff.ms": "15000",
	"log.segment.bytes":      strconv.Itoa(8 << 20),
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start starts a one-broker cluster on o.Addr.
func Start(o Options) (*Broker, error) {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Partitions == 0 {
		o.Partitions = 6
	}
	if o.Partitions < 0 {
		return nil, fmt.Errorf("broker: partitions must be > 0, got %d", o.Partitions)
	}
	listen, err := loopback(o.Addr)
	if err != nil {
		return nil, err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(0), // ignored by ListenFn, which listens on the address we checked
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, listen) }),
		kfake.ClusterID("kwindow-embedded"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(o.Partitions)),
		kfake.BrokerConfigs(brokerConfigs),
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(o.Partitions, o.Topics...))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if o.Logf != nil {
		opts = append(opts, kfake.WithLogger(logger(o.Logf)))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: starting on %s: %w", listen, err)
	}
	b := &Broker{c: c, addr: c.ListenAddrs()[0]}
	// kfake seeds topics only into an empty DataDir; create those that a reloaded
	// one lacks.
	if o.DataDir != "" && len(o.Topics) > 0 {
		if err := b.ensureTopics(o.Topics); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// loopback checks that addr is host:port with a loopback host and returns the
// address to listen on ("localhost" becomes 127.0.0.1).
func loopback(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("broker: listen address %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("broker: listen address %q: bad port %q", addr, port)
	}
	port = strconv.FormatUint(p, 10)
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("broker: listen address %q: the embedded broker has no authentication and keeps its data in "+
			"memory, so it listens on a loopback address only (127.0.0.1 or [::1]); to serve other hosts, run Kafka and "+
			"point kwindow at it (kafka.brokers)", addr)
	}
	return net.JoinHostPort(host, port), nil
}

func (b *Broker) ensureTopics(topics []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	specs := make([]kafka.TopicSpec, len(topics))
	for i, t := range topics {
		specs[i] = kafka.TopicSpec{Name: t} // existing topics keep their partitions
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kadm.NewClient(cl), -1, specs...); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker; with a DataDir, it saves its state there first.
func (b *Broker) Close() { b.c.Close() }

// logger passes kfake's warnings and errors to logf.
type logger func(format string, args ...any)

func (l logger) Logf(level kfake.LogLevel, format string, args ...any) {
	if level == kfake.LogLevelError || level == kfake.LogLevelWarn {
		l("broker: "+level.String()+": "+format, args...)
	}
}
