// Package broker runs the embedded Kafka-protocol broker of the demo: franz-go's
// kfake, one broker on loopback, speaking the real wire protocol so that kwindow,
// the load generator, kcat and any Kafka client work against it unchanged.
//
// kfake keeps every record in memory (or in DataDir), so a demo left running for
// a day must give memory back: Trim and RunTrimmer delete the input records a
// consumer group has committed past, TrimOlder and RunRetention the output
// records older than a bound, and the broker is configured so that those
// deletions, and the compaction of changelogs, actually free memory.
//
// Compaction is the broker's own, not kfake's: kfake's log cleaner compacts the
// records of open transactions as if they were committed, and so loses committed
// changelog records when such a transaction aborts. The broker compacts only at
// moments when no transaction is open (see Options.CompactInterval and
// CompactionStats).
//
// The broker has no authentication; it refuses to listen on anything but a
// loopback address.
package broker
