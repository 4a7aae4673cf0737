package store

import (
	"fmt"

	"github.com/kwindow/kwindow/exporter/internal/reuse"
)

// Batch collects puts, deletes and at most one checkpoint for one atomic
// Store.Write. Put copies its key and value, so the caller may reuse them at
// once. A Batch is reusable after Reset and is not safe for concurrent use.
//
// Put and Delete return the key's encoding as the batch holds it. Those bytes
// stay unchanged until Reset, however many ops follow (the batch grows into new
// memory, never over them): a caller may hand them on, as the key of a Kafka
// record, as long as it does not reset the batch while they are in use.
//
// A key that breaks the rules on Key does not panic: the batch remembers the
// first such error and Write returns it without applying anything.
type Batch struct {
	ops []op
	buf []byte // encoded keys and values of ops, back to back

	cp    Checkpoint
	hasCP bool

	err error
}

type op struct {
	del           bool
	key, val, end int // key is buf[key:val], value buf[val:end]
}

// Put sets the value of k, and returns k's encoding (nil once the batch holds
// an invalid key).
func (b *Batch) Put(k Key, value []byte) []byte {
	key := b.add(k, false)
	if key != nil {
		b.buf = append(b.buf, value...)
		b.ops[len(b.ops)-1].end = len(b.buf)
	}
	return key
}

// Delete removes k, and returns k's encoding (nil once the batch holds an
// invalid key); deleting a missing key is not an error.
func (b *Batch) Delete(k Key) []byte {
	return b.add(k, true)
}

func (b *Batch) add(k Key, del bool) []byte {
	if b.err != nil {
		return nil
	}
	if err := k.check(); err != nil {
		b.err = fmt.Errorf("batch op %d: %w", len(b.ops), err)
		return nil
	}
	o := op{del: del, key: len(b.buf)}
	b.buf = k.Append(b.buf)
	o.val, o.end = len(b.buf), len(b.buf)
	b.ops = append(b.ops, o)
	return b.buf[o.key:o.val:o.val]
}

// SetCheckpoint makes the batch write cp, replacing any checkpoint set before.
// The offsets map is copied.
func (b *Batch) SetCheckpoint(cp Checkpoint) {
	offsets := b.cp.ChangelogOffsets
	if offsets == nil {
		offsets = make(map[string]int64, len(cp.ChangelogOffsets))
	}
	clear(offsets)
	for name, off := range cp.ChangelogOffsets {
		offsets[name] = off
	}
	b.cp = cp
	b.cp.ChangelogOffsets = offsets
	b.hasCP = true
}

// Len reports the number of puts and deletes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory for reuse unless it is more than
// four times what this use of it took (see package reuse).
func (b *Batch) Reset() {
	b.ops = reuse.Slice(b.ops)
	b.buf = reuse.Slice(b.buf)
	b.hasCP = false
	b.err = nil
}

// each calls fn for every op in order; value is nil for a delete. key and
// value alias the batch.
func (b *Batch) each(fn func(del bool, key, value []byte)) {
	for _, o := range b.ops {
		key := b.buf[o.key:o.val:o.val]
		if o.del {
			fn(true, key, nil)
			continue
		}
		fn(false, key, b.buf[o.val:o.end:o.end])
	}
}

// empty reports whether writing b would change nothing.
func (b *Batch) empty() bool { return len(b.ops) == 0 && !b.hasCP }
