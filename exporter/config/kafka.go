package config

// Kafka says how to reach the brokers.
type Kafka struct {
	// Brokers are the seed brokers, host:port. Default ["127.0.0.1:9092"].
	Brokers []string `yaml:"brokers"`
	// ClientID identifies kwindow in broker logs and quotas, 1 to 256 characters.
	// Default "kwindow".
	ClientID string `yaml:"client_id"`
	// TLS enables TLS to the brokers when present.
	TLS *TLS `yaml:"tls"`
	// SASL enables SASL authentication when present.
	SASL *SASL `yaml:"sasl"`
	// FetchMaxBytes bounds one fetch response. Default 8 MiB: franz-go decodes
	// one buffered fetch while kwindow processes the previous one, so smaller
	// fetches overlap the two (measured: 1.09M vs 0.87M events/s end to end, and a
	// third of the peak memory, against 50 MiB). At most 100 MiB, franz-go's
	// largest read.
	FetchMaxBytes int32 `yaml:"fetch_max_bytes"`
	// FetchMaxPartitionBytes bounds one partition's share of a fetch, at most
	// FetchMaxBytes. Default 1 MiB.
	FetchMaxPartitionBytes int32 `yaml:"fetch_max_partition_bytes"`
	// FetchMaxWait is how long the broker may hold a fetch waiting for data: lower
	// means fresher results on a quiet topic. At least 10ms (franz-go's minimum).
	// Default 250ms.
	FetchMaxWait Duration `yaml:"fetch_max_wait"`
}

// TLS configures TLS to the brokers.
type TLS struct {
	// CAFile verifies the brokers' certificates; empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name verified in the brokers' certificates.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables certificate verification (testing only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password, or PasswordFile to keep it out of the configuration (its content,
	// trailing newline removed).
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Stream configures the stream runtime: topics, processing guarantee and timing.
type Stream struct {
	// ApplicationID names the consumer group and prefixes the topics kwindow creates
	// (changelogs) and its transactional IDs. Instances with the same ID share the
	// work. [a-zA-Z0-9._-], at most 200 characters (the topics it prefixes must
	// stay within Kafka's 249). Default "kwindow".
	ApplicationID string `yaml:"application_id"`
	// InstanceID distinguishes the instances of one application: it is the
	// instance's static group membership (group.instance.id) and makes its
	// transactional ID. It must be unique among the running instances and should
	// stay the same across restarts: a restarted instance then takes its old
	// partitions back at once, without a rebalance, and fences its previous
	// incarnation. [a-zA-Z0-9._-], at most 249 characters (Kafka checks
	// group.instance.id as a topic name). Default: the host name.
	InstanceID string `yaml:"instance_id"`
	// InputTopic is the topic of events. Default "requests".
	InputTopic string `yaml:"input_topic"`
	// OutputTopic receives the final result of every closed window, as JSON.
	// Default "<application_id>-results"; "-" disables it.
	OutputTopic string `yaml:"output_topic"`
	// DeadLetterTopic receives malformed events with their original bytes and
	// headers saying why and where from. Default "<application_id>-dead-letters".
	//
	// No topic kwindow writes (output, dead letters, late records, changelogs)
	// may be the input topic, which would read back what kwindow writes, or another
	// of them; only the late and the dead-letter topic may be one.
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// LateTopic, when set, receives late events (for a closed window) as they came.
	LateTopic string `yaml:"late_topic"`
	// ProcessingGuarantee is exactly_once (default) or at_least_once.
	ProcessingGuarantee string `yaml:"processing_guarantee"`
	// CommitInterval is how often results are committed: the freshness floor, and
	// under exactly_once the length of a transaction, so then at most half the
	// transaction timeout (30s). At least 1ms. Default 100ms under exactly_once, 1s
	// under at_least_once.
	CommitInterval Duration `yaml:"commit_interval"`
	// IdleTimeout: after a partition has received nothing for this long, its stream
	// time advances with the wall clock so its windows still close and publish.
	// The trade-off: an event that arrives after that, older than the advanced
	// stream time, is late. 0 disables. Default 30s.
	IdleTimeout *Duration `yaml:"idle_timeout"`
	// SessionTimeout is how long the group waits for a silent member before giving
	// its partitions to the others: a crashed instance's partitions resume after
	// this long. Lower is faster failover but risks needless rebalances on a
	// paused process. At least 3s, the group heartbeat interval (brokers may
	// refuse less: Kafka's group.min.session.timeout.ms is 6s by default).
	// Default 45s (Kafka's default).
	SessionTimeout Duration `yaml:"session_timeout"`
	// ReplicationFactor of the topics kwindow creates; -1 uses the broker default.
	ReplicationFactor int16 `yaml:"replication_factor"`
	// RepartitionPartitions is the number of partitions of the repartition topic,
	// through which stage 1 (one task per input partition) ships partial
	// aggregates to stage 2 (one task per repartition partition, owning its keys),
	// and so of the changelogs: the parallelism of stage 2. 0 (default): as many as
	// the input topic. It cannot change once the topic exists.
	RepartitionPartitions int32 `yaml:"repartition_partitions"`
	// Threads is how many goroutines process the partitions of one instance
	// (Kafka Streams' num.stream.threads): each input and repartition partition
	// belongs to one, and one Kafka transaction per commit interval still covers
	// them all. 0 (default): one per CPU the process may use (GOMAXPROCS); at most
	// 256.
	Threads int `yaml:"threads"`
}

// Guarantees.
const (
	ExactlyOnce = "exactly_once"
	AtLeastOnce = "at_least_once"
)

// State configures the state stores.
type State struct {
	// Store is rocksdb (default) or memory (state rebuilt from the changelogs at
	// every start).
	Store string `yaml:"store"`
	// Dir holds one RocksDB directory per input partition. Default "data".
	Dir string `yaml:"dir"`
	// BlockCacheSize is the RocksDB read cache shared by every store (bytes),
	// > 0. Default 16 MiB: the stream reads the store only for running totals of
	// keys that return, and a larger cache mostly holds blocks nothing reads
	// again; queries over many keys or long ranges gain from more.
	BlockCacheSize int64 `yaml:"block_cache_size"`
	// MemtableBudget bounds the RocksDB write buffers (memtables) of every store
	// of the instance together (bytes): each of the repartition topic's
	// partitions gets an equal share for its two memtables, and no memtable less
	// than 1 MiB. At least 2 MiB. Default 32 MiB.
	MemtableBudget int64 `yaml:"memtable_budget"`
}

// Memory configures the Go runtime's memory.
type Memory struct {
	// GCPercent is the Go garbage collector's target (GOGC): a collection
	// starts once the heap has grown this many percent over what the previous
	// one left live. The Go heap is most of the exporter's memory, and Go's own
	// default, 100, lets it reach twice the live heap; a lower target costs
	// more collections (CPU). GOGC in the environment takes precedence. At
	// least 1; default 50: the heap reaches one and a half times the live heap,
	// and at 10,000 keys the collections cost no more CPU than 100 did before
	// stage 1 and 2 stopped allocating a sketch per part (README, "Exporter
	// memory at 10,000 keys").
	GCPercent int `yaml:"gc_percent"`
	// Limit is the Go runtime's soft memory limit in bytes (GOMEMLIMIT, which
	// takes precedence when set; runtime/debug.SetMemoryLimit): when the Go
	// heap, stacks and runtime together approach it, the garbage collector runs
	// sooner than GCPercent says. It bounds neither RocksDB's memory (see
	// state) nor a live heap larger than itself: the collector then runs
	// nearly all the time (Go caps it at about half the CPU). 0, the default,
	// sets none; otherwise at least 32 MiB.
	Limit int64 `yaml:"limit"`
}
