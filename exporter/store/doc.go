// Package store keeps a task's window aggregates: opaque values under keys
// (aggregation, group, window start), with the changelog checkpoint that says
// where a restart resumes.
//
// Two invariants hold for every implementation:
//
//   - Encoded keys sort by (aggregation, group, window start), so one ordered
//     scan answers "this group over this time range", and a seek past a group
//     prefix skips all of its windows (see Key for the layout).
//   - A Write applies its puts, deletes and checkpoint together or not at all,
//     and a reader never sees part of one: the checkpoint always describes the
//     data next to it, which is what makes replaying the changelog from it
//     exact.
//
// An aggregation's rollups (coarser windows merged from its closed ones) are
// stored under their own names, RollupAgg: the same layout, their own range.
//
// Memory serves tests and --state=memory; Rocks keeps one RocksDB per input
// partition. Package storetest holds the conformance suite both pass.
package store
