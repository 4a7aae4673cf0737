// Package stream is kwindow's Kafka task runtime: a consumer-group member that runs
// one task per assigned input partition, each owning an engine.Engine and a
// store.Store backed by one compacted changelog topic per aggregation.
//
// Exactly once. Every commit interval, one Kafka transaction holds the changelog
// records of the windows that changed, the final results of the windows that closed
// (output topic), the rollup windows those closed windows were merged into (one
// changelog per rollup resolution, see rollup.go), the dead-letter and late
// records, and the input offsets. The rule
// (commit.go): the stores, the metrics view, the output callback and the input
// offsets move on only when every record of the interval was acknowledged by the
// broker and the transaction committed. Any produce failure up to the commit
// aborts the transaction; every task then drops its uncommitted in-memory state and
// rebuilds it from its store, and the consumer rewinds to the committed offsets:
// nothing a crash could roll back is ever served or published. Records that
// arrive for a partition without a running task (revoked, or still restoring)
// abort the interval too: their offsets must never commit uncounted.
//
// Sessions. A Runtime outlives its connections to Kafka. Run keeps one session at
// a time (the transactional group client and its tasks); a session that fails
// (Kafka unreachable, a transaction whose end failed and whose outcome is thus
// unknown, a broker restart) is thrown away whole, and a new one starts after a
// backoff. The stores keep what committed, so the new session's tasks restore only
// the changelog tail, including whatever the lost transaction did commit. Only
// errors no retry can fix end Run: a fenced instance_id, refused credentials, a
// missing input topic, a failing local disk.
//
// Restoration. A task that starts (first start, restart, or a partition that moved
// here) opens its store, reads the checkpoint and replays each changelog partition
// from there to the last stable offset taken at the start (read_committed), however
// long the broker takes, then loads its open windows into memory. Its input
// partition is paused from the moment it is assigned until then; the other tasks go
// on meanwhile. The stores write RocksDB's write-ahead log, so a process killed
// with SIGKILL loses nothing it wrote and replays only the changelog tail.
//
// Health. Every client reports each broker request to a health tracker (franz-go
// hooks): /readyz fails with the reason, and kwindow_kafka_up drops, when the
// brokers stop answering, when transactions keep aborting, or when records wait
// without a commit; warnings are logged at most every 10 s while it lasts.
//
// A stream time meta record in each changelog keeps stream time exact across
// restarts, so windows closed by the idle timeout are not published twice.
package stream
