// Package loadgen generates realistic, deterministic request-log traffic: the default
// event schema of package event, for the demo, benchmarks and tests.
//
// A Generator seeded the same way produces the same stream of events for the same
// event times (on one architecture; latencies may differ in the last bit between
// architectures, as Go may fuse floating-point operations). Produce and Preload send
// the events to a Kafka topic with a franz-go client.
package loadgen
