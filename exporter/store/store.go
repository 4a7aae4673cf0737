package store

import "errors"

// ErrClosed is returned by every Store method called after Close.
var ErrClosed = errors.New("store: closed")

// Entry is one window aggregate.
type Entry struct {
	Key   Key
	Value []byte
}

// Stats sizes a store, for the exporter's self-metrics. Memory's figures
// are exact; Rocks' are RocksDB's estimates (see Rocks.Stats).
type Stats struct {
	Keys      uint64 // stored windows
	LiveBytes uint64 // bytes of keys and values
	// Memory outside the Go heap (RocksDB; 0 for Memory): memtables, and the
	// index and filter blocks of table readers not held in the block cache.
	MemtableBytes, TableReaderBytes uint64
}

// Store holds one task's window aggregates and checkpoint. One goroutine
// writes (Write, DeleteBefore) while any number query; a query sees every
// Write either entirely or not at all.
//
// Callbacks receive slices that are valid only during the call and must not
// be modified. A callback may query the store but must not call Close, which
// waits for running calls to return.
type Store interface {
	// Write applies all the puts, deletes and the checkpoint of b, or
	// nothing. It returns the batch's error if a key in it was invalid.
	Write(b *Batch) error
	// Get returns the value of k; the caller owns it.
	Get(k Key) (value []byte, ok bool, err error)
	// Range calls fn for the windows of (agg, group) with from <= Start < to,
	// in ascending Start, until fn returns false.
	Range(agg string, group []byte, from, to int64, fn func(Entry) bool) error
	// Window calls fn, in ascending group order, for every group of agg that
	// has a window starting exactly at start. It seeks once or twice per
	// group rather than reading the group's windows.
	Window(agg string, start int64, fn func(Entry) bool) error
	// Groups calls fn for the distinct groups of agg in ascending order,
	// seeking past each group's windows.
	Groups(agg string, fn func(group []byte) bool) error
	// Windows calls fn for every window of agg with from <= Start < to, in key
	// order (group, then Start), until fn returns false. It reads the store in
	// one pass, seeking only past a group's windows before from: a task loading
	// its open windows costs about one seek per group, not a Groups and a Range.
	Windows(agg string, from, to int64, fn func(Entry) bool) error
	// DeleteBefore removes the windows of agg with Start < before and
	// reports how many it removed. It is a write: call it from the writer.
	DeleteBefore(agg string, before int64) (deleted int, err error)
	// Checkpoint returns the last checkpoint written; ok is false if none
	// was.
	Checkpoint() (cp Checkpoint, ok bool, err error)
	Stats() (Stats, error)
	// Close releases the store after the running calls return. It is
	// idempotent.
	Close() error
}
