// Package kafka turns the kafka section of the configuration into franz-go client
// options (seed brokers, TLS, SASL, fetch limits) and administers the topics
// kwindow reads and writes.
//
// The options here are the ones every client shares; the stream runtime adds its
// group and transaction options, the load generator its producer options.
// EnsureTopics holds one invariant the stream runtime depends on: a topic that must
// be co-partitioned with the input (a changelog) is never silently used with
// another partition count.
package kafka
