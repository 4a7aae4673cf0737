package config

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TransactionTimeout is the transaction timeout of the exactly_once producer: a
// transaction still open after it is aborted by the broker. A commit interval is
// one transaction, so it is bounded well below this.
const TransactionTimeout = time.Minute

// Bounds franz-go puts on the client options kwindow sets (kgo's cfg.validate):
// a configuration outside them would pass config check and fail at start.
const (
	minFetchMaxWait   = Duration(10 * time.Millisecond)
	minMemoryLimit    = 32 << 20  // below it the Go runtime alone would keep the collector busy
	maxFetchMaxBytes  = 100 << 20 // kgo.BrokerMaxReadBytes' default, which kwindow keeps
	maxClientIDLength = 256
	// The group heartbeat interval (franz-go's default 3s, which kwindow keeps)
	// must not exceed the session timeout.
	minSessionTimeout = Duration(3 * time.Second)
	// Timeouts travel as int32 milliseconds.
	maxWireDuration = Duration(math.MaxInt32 * time.Millisecond)
)

var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

func (c *Config) validateRuntime(p *problems) {
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", "at least one broker is needed")
	}
	for i, b := range k.Brokers {
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.add(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if n := len(k.ClientID); n < 1 || n > maxClientIDLength {
		p.add("kafka.client_id", "must be 1 to %d characters, got %d", maxClientIDLength, n)
	}
	if k.FetchMaxBytes < 1 || k.FetchMaxBytes > maxFetchMaxBytes {
		p.add("kafka.fetch_max_bytes", "must be between 1 and %d (100 MiB, franz-go's largest read), got %d", maxFetchMaxBytes, k.FetchMaxBytes)
	} else if k.FetchMaxPartitionBytes < 1 || k.FetchMaxPartitionBytes > k.FetchMaxBytes {
		p.add("kafka.fetch_max_partition_bytes", "must be > 0 and <= fetch_max_bytes (%d), got %d", k.FetchMaxBytes, k.FetchMaxPartitionBytes)
	}
	if w := k.FetchMaxWait; w < minFetchMaxWait || w > maxWireDuration {
		p.add("kafka.fetch_max_wait", "must be between %v and %v (franz-go's range), got %v", minFetchMaxWait, maxWireDuration, w)
	}
	if t := k.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			p.add("kafka.tls.key_file", "cert_file and key_file go together")
		} else {
			p.add("kafka.tls.cert_file", "cert_file and key_file go together")
		}
	}
	if s := k.SASL; s != nil {
		if !slices.Contains(saslMechanisms, s.Mechanism) {
			p.add("kafka.sasl.mechanism", "unknown mechanism %q (want %s)", s.Mechanism, strings.Join(saslMechanisms, ", "))
		}
		if s.Username == "" {
			p.add("kafka.sasl.username", "must be set")
		}
		switch {
		case s.Password != "" && s.PasswordFile != "":
			p.add("kafka.sasl.password_file", "give password or password_file, not both")
		case s.Password == "" && s.PasswordFile == "":
			p.add("kafka.sasl", "password or password_file must be set (SASL %s needs a password)", s.Mechanism)
		}
	}
	c.validateStream(p)
	st := &c.State
	if st.Store != "rocksdb" && st.Store != "memory" {
		p.add("state.store", "want rocksdb or memory, got %q", st.Store)
	}
	if st.Dir == "" {
		p.add("state.dir", "must be set (remove it for the default, data)")
	}
	if st.BlockCacheSize < 1 {
		p.add("state.block_cache_size", "must be > 0, got %d", st.BlockCacheSize)
	}
	if st.MemtableBudget < 2<<20 {
		p.add("state.memtable_budget", "must be >= 2097152 (two memtables of 1 MiB), got %d", st.MemtableBudget)
	}
	if g := c.Memory.GCPercent; g < 1 {
		p.add("memory.gc_percent", "must be >= 1, got %d", g)
	}
	if l := c.Memory.Limit; l != 0 && l < minMemoryLimit {
		p.add("memory.limit", "must be 0 (none) or >= %d (32 MiB), got %d", minMemoryLimit, l)
	}
}

func (c *Config) validateStream(p *problems) {
	s := &c.Stream
	if why := checkTopic(s.ApplicationID, 200); why != "" {
		p.add("stream.application_id", "%q %s", s.ApplicationID, why)
	}
	// group.instance.id: Kafka checks it as it checks topic names.
	if why := checkTopic(s.InstanceID, maxTopicLength); why != "" {
		p.add("stream.instance_id", "%q %s", s.InstanceID, why)
	}
	if why := checkTopic(s.InputTopic, maxTopicLength); why != "" {
		p.add("stream.input_topic", "%q %s", s.InputTopic, why)
	}
	if why := checkTopic(s.DeadLetterTopic, maxTopicLength); why != "" {
		p.add("stream.dead_letter_topic", "%q %s", s.DeadLetterTopic, why)
	}
	if why := checkTopic(s.OutputTopic, maxTopicLength); s.OutputTopic != "-" && why != "" {
		p.add("stream.output_topic", "%q %s, or - to disable", s.OutputTopic, why)
	}
	if why := checkTopic(s.LateTopic, maxTopicLength); s.LateTopic != "" && why != "" {
		p.add("stream.late_topic", "%q %s", s.LateTopic, why)
	}
	c.validateTopicClashes(p)
	if s.ProcessingGuarantee != ExactlyOnce && s.ProcessingGuarantee != AtLeastOnce {
		p.add("stream.processing_guarantee", "want %s or %s, got %q", ExactlyOnce, AtLeastOnce, s.ProcessingGuarantee)
	}
	switch ci := s.CommitInterval; {
	case ci < Duration(time.Millisecond):
		p.add("stream.commit_interval", "must be >= 1ms, got %v", ci)
	case s.ProcessingGuarantee == ExactlyOnce && ci > Duration(TransactionTimeout/2):
		p.add("stream.commit_interval", "must be <= %v under exactly_once (a commit interval is one transaction, and the broker aborts one open longer than %v), got %v",
			Duration(TransactionTimeout/2), Duration(TransactionTimeout), ci)
	}
	if st := s.SessionTimeout; st < minSessionTimeout || st > maxWireDuration {
		p.add("stream.session_timeout", "must be between %v (the group heartbeat interval) and %v, got %v", minSessionTimeout, maxWireDuration, st)
	}
	if *s.IdleTimeout < 0 {
		p.add("stream.idle_timeout", "must be >= 0 (0 disables), got %v", *s.IdleTimeout)
	}
	if s.RepartitionPartitions < 0 {
		p.add("stream.repartition_partitions", "must be >= 0 (0: as many as the input topic), got %d", s.RepartitionPartitions)
	}
	if s.Threads < 0 || s.Threads > maxThreads {
		p.add("stream.threads", "must be between 0 (one per CPU) and %d, got %d", maxThreads, s.Threads)
	}
	if s.ReplicationFactor < -1 || s.ReplicationFactor == 0 {
		p.add("stream.replication_factor", "must be -1 (broker default) or >= 1, got %d", s.ReplicationFactor)
	}
}

// maxThreads bounds stream.threads: more goroutines than partitions or cores
// only add synchronisation.
const maxThreads = 256

// checkTopic says why t is not a valid Kafka topic name of at most max
// characters, or "".
func checkTopic(t string, max int) string {
	switch {
	case t == "":
		return "must not be empty"
	case len(t) > max:
		return fmt.Sprintf("is %d characters long, more than %d", len(t), max)
	case t == "." || t == "..":
		return "is not a valid topic name"
	case !topicRE.MatchString(t):
		return "is not a valid topic name ([a-zA-Z0-9._-]+)"
	}
	return ""
}

// validateTopicClashes refuses a topic kwindow writes that is its input topic
// (it would read back what it writes: every dead letter again, forever) or
// another topic it writes (a changelog holding results cannot be restored).
// Kafka treats . and _ in topic names alike, so those collide too.
func (c *Config) validateTopicClashes(p *problems) {
	s := &c.Stream
	type topic struct{ path, name string }
	var written []topic
	if s.OutputTopic != "-" {
		written = append(written, topic{"stream.output_topic", s.OutputTopic})
	}
	written = append(written, topic{"stream.dead_letter_topic", s.DeadLetterTopic})
	if s.LateTopic != "" {
		written = append(written, topic{"stream.late_topic", s.LateTopic})
	}
	written = append(written, topic{"stream.application_id", c.RepartitionTopic()}, topic{"stream.application_id", c.StreamTimeTopic()})
	seen := map[string]bool{}
	for i, a := range c.Aggregations {
		if nameRE.MatchString(a.Name) && !seen[a.Name] { // a name twice is reported already
			seen[a.Name] = true
			written = append(written, topic{fmt.Sprintf("aggregations[%d].name", i), c.ChangelogTopic(a.Name)})
			prev := Duration(0)
			for j, r := range a.Rollups {
				if r.Resolution > prev { // a resolution not above the one before is reported already
					written = append(written, topic{fmt.Sprintf("aggregations[%d].rollups[%d].resolution", i, j), c.RollupChangelogTopic(a.Name, r.Resolution)})
				}
				prev = max(prev, r.Resolution)
			}
		}
	}
	norm := func(t string) string { return strings.ReplaceAll(t, ".", "_") }
	clash := func(a, b string) string {
		switch {
		case a == b:
			return "is"
		case norm(a) == norm(b):
			return "collides with (Kafka treats . and _ in topic names alike)"
		}
		return ""
	}
	for _, w := range written {
		if how := clash(w.name, s.InputTopic); how != "" {
			p.add(w.path, "topic %s %s the input topic: kwindow would read back what it writes", w.name, how)
		}
	}
	for i, a := range written {
		for _, b := range written[:i] {
			// Late records and dead letters are both input copies with headers
			// saying why: one topic may take both.
			late := a.path == "stream.late_topic" && b.path == "stream.dead_letter_topic"
			if how := clash(a.name, b.name); how != "" && !(late && a.name == b.name) {
				p.add(a.path, "topic %s %s %s", a.name, how, b.path)
			}
		}
	}
}

// RepartitionTopic is the internal topic from stage 1 to stage 2: partial
// aggregates keyed by (aggregation, group key), and every stage-1 task's
// watermark.
func (c *Config) RepartitionTopic() string { return c.Stream.ApplicationID + "-repartition" }

// StreamTimeTopic is the compacted topic that keeps each stage-1 task's stream
// time (one record per input partition), so that lateness is decided the same way
// after a restart. No aggregation's changelog can have its name: aggregation names
// have no hyphen.
func (c *Config) StreamTimeTopic() string { return c.Stream.ApplicationID + "-stream-time-changelog" }

// ChangelogTopic is the changelog topic of aggregation name.
func (c *Config) ChangelogTopic(name string) string {
	return c.Stream.ApplicationID + "-" + name + "-changelog"
}

// RollupChangelogTopic is the changelog topic of the rollups of aggregation
// name at resolution res: app-endpoint_1m-rollup-1h-changelog. Each resolution
// has its own topic because each has its own retention (the topic's
// retention.ms follows it): in the aggregation's topic, hourly rollups kept 30
// days would keep its one-minute windows as long. Aggregation names have no
// hyphen, so no aggregation's changelog can have this name.
func (c *Config) RollupChangelogTopic(name string, res Duration) string {
	return c.Stream.ApplicationID + "-" + name + "-rollup-" + res.String() + "-changelog"
}
