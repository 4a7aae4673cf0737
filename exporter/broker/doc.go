// Package broker runs the embedded Kafka-protocol broker of the demo: franz-go's
// kfake, one broker on loopback, speaking the real wire protocol so that kwindow,
// the load generator, kcat and any Kafka client work against it unchanged.
//
// kfake keeps every record in memory (or in DataDir), so a demo left running for
// a day must give memory back: Trim and RunTrimmer delete the input records a
// consumer group has committed past, and the broker is configured so that those
// deletions, and the compaction of changelogs, actually free memory.
//
// The broker has no authentication; it refuses to listen on anything but a
// loopback address.
package broker
