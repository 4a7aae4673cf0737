// Package stream is kwindow's Kafka task runtime: a consumer-group member that runs
// one task per assigned input partition, each owning an engine.Engine and a
// store.Store backed by one compacted changelog topic per aggregation.
//
// Exactly once. Every commit interval, one Kafka transaction holds the changelog
// records of the windows that changed, the final results of the windows that closed
// (output topic), the dead-letter and late records, and the input offsets. Only
// after the transaction commits are the changes written to the local store, with
// the changelog offsets they reach (the checkpoint). If the transaction aborts
// (a rebalance, a broker error), every task drops its uncommitted in-memory state
// and rebuilds it from its store, and the consumer rewinds to the committed
// offsets: nothing a crash could roll back is ever served or published.
//
// Restoration. A task that starts (first start, restart, or a partition that moved
// here) opens its store, reads the checkpoint and replays each changelog partition
// from there to its end (read_committed), then loads its open windows into memory.
// Its input partition is paused until then; the other tasks go on meanwhile.
//
// A stream time meta record in each changelog keeps stream time exact across
// restarts, so windows closed by the idle timeout are not published twice.
package stream
