package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

func (c *Config) fillRuntimeDefaults() {
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	if k.ClientID == "" {
		k.ClientID = "kwindow"
	}
	if k.FetchMaxBytes == 0 {
		k.FetchMaxBytes = 8 << 20
	}
	if k.FetchMaxPartitionBytes == 0 {
		k.FetchMaxPartitionBytes = 1 << 20
	}
	if k.FetchMaxWait == 0 {
		k.FetchMaxWait = Duration(250 * time.Millisecond)
	}
	s := &c.Stream
	if s.ApplicationID == "" {
		s.ApplicationID = "kwindow"
	}
	if s.InstanceID == "" {
		s.InstanceID, _ = os.Hostname()
		if s.InstanceID == "" {
			s.InstanceID = "0"
		}
	}
	if s.InputTopic == "" {
		s.InputTopic = "requests"
	}
	if s.OutputTopic == "" {
		s.OutputTopic = s.ApplicationID + "-results"
	}
	if s.DeadLetterTopic == "" {
		s.DeadLetterTopic = s.ApplicationID + "-dead-letters"
	}
	if s.ProcessingGuarantee == "" {
		s.ProcessingGuarantee = ExactlyOnce
	}
	if s.CommitInterval == 0 {
		s.CommitInterval = Duration(100 * time.Millisecond)
		if s.ProcessingGuarantee == AtLeastOnce {
			s.CommitInterval = Duration(time.Second)
		}
	}
	if s.IdleTimeout == nil {
		d := Duration(30 * time.Second)
		s.IdleTimeout = &d
	}
	if s.SessionTimeout == 0 {
		s.SessionTimeout = Duration(45 * time.Second)
	}
	if s.ReplicationFactor == 0 {
		s.ReplicationFactor = -1
	}
	st := &c.State
	if st.Store == "" {
		st.Store = "rocksdb"
	}
	if st.Dir == "" {
		st.Dir = "data"
	}
	if st.BlockCacheSize == 0 {
		st.BlockCacheSize = 64 << 20
	}
}

var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

func (c *Config) validateRuntime() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &fieldError{path, fmt.Sprintf(format, args...)})
	}
	k := &c.Kafka
	for i, b := range k.Brokers {
		if host, port, ok := strings.Cut(b, ":"); !ok || host == "" || port == "" {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if k.FetchMaxBytes < 0 || k.FetchMaxPartitionBytes < 0 || k.FetchMaxPartitionBytes > k.FetchMaxBytes {
		bad("kafka.fetch_max_partition_bytes", "must be > 0 and <= fetch_max_bytes (%d), got %d", k.FetchMaxBytes, k.FetchMaxPartitionBytes)
	}
	if k.FetchMaxWait < 0 {
		bad("kafka.fetch_max_wait", "must be >= 0, got %v", k.FetchMaxWait)
	}
	if t := k.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		bad("kafka.tls.cert_file", "cert_file and key_file go together")
	}
	if s := k.SASL; s != nil {
		switch {
		case !slices.Contains(saslMechanisms, s.Mechanism):
			bad("kafka.sasl.mechanism", "unknown mechanism %q (want %s)", s.Mechanism, strings.Join(saslMechanisms, ", "))
		case s.Username == "":
			bad("kafka.sasl.username", "must be set")
		case s.Password != "" && s.PasswordFile != "":
			bad("kafka.sasl.password_file", "give password or password_file, not both")
		}
	}
	s := &c.Stream
	if !topicRE.MatchString(s.ApplicationID) {
		bad("stream.application_id", "%q must be a valid topic name part ([a-zA-Z0-9._-]+)", s.ApplicationID)
	}
	for path, t := range map[string]string{"stream.input_topic": s.InputTopic, "stream.dead_letter_topic": s.DeadLetterTopic} {
		if !topicRE.MatchString(t) {
			bad(path, "%q is not a valid topic name ([a-zA-Z0-9._-]+)", t)
		}
	}
	if s.OutputTopic != "-" && !topicRE.MatchString(s.OutputTopic) {
		bad("stream.output_topic", "%q is not a valid topic name ([a-zA-Z0-9._-]+), or - to disable", s.OutputTopic)
	}
	if s.LateTopic != "" && !topicRE.MatchString(s.LateTopic) {
		bad("stream.late_topic", "%q is not a valid topic name ([a-zA-Z0-9._-]+)", s.LateTopic)
	}
	if s.ProcessingGuarantee != ExactlyOnce && s.ProcessingGuarantee != AtLeastOnce {
		bad("stream.processing_guarantee", "want %s or %s, got %q", ExactlyOnce, AtLeastOnce, s.ProcessingGuarantee)
	}
	if s.CommitInterval < Duration(time.Millisecond) {
		bad("stream.commit_interval", "must be >= 1ms, got %v", s.CommitInterval)
	}
	if s.SessionTimeout < Duration(time.Second) {
		bad("stream.session_timeout", "must be >= 1s, got %v", s.SessionTimeout)
	}
	if *s.IdleTimeout < 0 {
		bad("stream.idle_timeout", "must be >= 0, got %v", *s.IdleTimeout)
	}
	if s.ReplicationFactor < -1 || s.ReplicationFactor == 0 {
		bad("stream.replication_factor", "must be -1 (broker default) or >= 1, got %d", s.ReplicationFactor)
	}
	st := &c.State
	if st.Store != "rocksdb" && st.Store != "memory" {
		bad("state.store", "want rocksdb or memory, got %q", st.Store)
	}
	if st.BlockCacheSize < 0 {
		bad("state.block_cache_size", "must be >= 0, got %d", st.BlockCacheSize)
	}
	return errs
}

// ChangelogTopic is the changelog topic of aggregation name.
func (c *Config) ChangelogTopic(name string) string {
	return c.Stream.ApplicationID + "-" + name + "-changelog"
}
