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
	// Debugf receives what the log compactor does (rounds, deferred attempts,
	// produce requests parked); nil discards it.
	Debugf func(format string, args ...any)
	// CompactInterval is how often compacted topics (kwindow's changelogs) are
	// compacted, and retention is applied to every topic: DefaultCompactInterval
	// when 0, at least MinCompactInterval otherwise. A compaction waits for a
	// moment when no transaction is open (see CompactionStats).
	CompactInterval time.Duration
}

// Compaction intervals.
const (
	// DefaultCompactInterval is real Kafka's log.cleaner.backoff.ms.
	DefaultCompactInterval = 15 * time.Second
	MinCompactInterval     = 10 * time.Millisecond
)

// brokerConfigs are the broker configs the embedded broker starts with.
//
// kfake's own log cleaner is off (it would run every log.cleaner.backoff.ms: ten
// years): it compacts the records of open transactions as if they were committed,
// and so loses committed changelog records (see compactor). The compactor compacts
// every Options.CompactInterval instead, 15s by default (real Kafka's), which keeps
// compacted changelogs small, so that restoring from them is fast and memory stays
// bounded; it applies retention with each compaction, as kfake's cleaner did.
//
// kfake frees a partition's memory only a whole segment at a time, when
// DeleteRecords or retention moves the log start past the segment's last record:
// 1 MiB segments instead of 100 MiB make Trim and TrimOlder give memory back in
// small steps (an input partition holds at most one segment more than what its
// consumer group has not committed).
//
// Time retention is deliberately left at its default (7 days): kfake applies
// retention.ms to compacted topics too, so lowering it broker-wide would delete
// changelog records that a restore still needs. Input topics are trimmed by Trim,
// output topics by TrimOlder, instead.
var brokerConfigs = map[string]string{
	"log.cleaner.backoff.ms": strconv.FormatInt(10*365*24*time.Hour.Milliseconds(), 10),
	"log.segment.bytes":      strconv.Itoa(segmentBytes),
}

// segmentBytes is the size of the broker's log segments.
const segmentBytes = 1 << 20

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
	k    *compactor
	stop context.CancelFunc
	done chan struct{} // closed when the compactor's loop has returned
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
	switch {
	case o.CompactInterval == 0:
		o.CompactInterval = DefaultCompactInterval
	case o.CompactInterval < MinCompactInterval:
		return nil, fmt.Errorf("broker: compaction interval must be at least %v, got %v", MinCompactInterval, o.CompactInterval)
	}
	discard := func(string, ...any) {}
	if o.Logf == nil {
		o.Logf = discard
	}
	if o.Debugf == nil {
		o.Debugf = discard
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
	opts = append(opts, kfake.WithLogger(logger(o.Logf)))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: starting on %s: %w", listen, err)
	}
	b := &Broker{c: c, addr: c.ListenAddrs()[0], done: make(chan struct{})}
	if b.k, err = newCompactor(c, b.addr, o.CompactInterval, o.Logf, o.Debugf); err != nil {
		c.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	if o.DataDir != "" {
		// kfake seeds topics only into an empty DataDir; create those that a
		// reloaded one lacks. Reloaded topics may hold transactional records that
		// the compactor has not seen produced.
		if err := b.reloaded(o.Topics); err != nil {
			close(b.done)
			b.Close()
			return nil, err
		}
	}
	go func() {
		defer close(b.done)
		b.k.run(ctx)
	}()
	return b, nil
}

// reloaded creates the topics a reloaded DataDir lacks and has the compactor
// watch every topic it holds.
func (b *Broker) reloaded(topics []string) error {
	if len(topics) > 0 {
		if err := b.ensureTopics(topics); err != nil {
			return err
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	all, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("broker: listing reloaded topics: %w", err)
	}
	b.k.watch(all.Names()...)
	return nil
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
func (b *Broker) Close() {
	b.stop()
	<-b.done
	b.k.close()
	b.c.Close()
}

// Compact runs a compaction round now (as every CompactInterval): it compacts
// the compacted topics and applies retention as soon as no transaction is open,
// trying for a few seconds, and reports whether it did.
func (b *Broker) Compact(ctx context.Context) (bool, error) {
	compacted, _, err := b.k.compact(ctx)
	return compacted, err
}

// CompactionStats returns what the log compactor has done so far.
func (b *Broker) CompactionStats() CompactionStats { return b.k.Stats() }

// logger passes kfake's warnings and errors to logf.
type logger func(format string, args ...any)

func (l logger) Logf(level kfake.LogLevel, format string, args ...any) {
	if level == kfake.LogLevelError || level == kfake.LogLevelWarn {
		l("broker: "+level.String()+": "+format, args...)
	}
}
