package store

/*
#cgo LDFLAGS: -lrocksdb
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <rocksdb/c.h>

// A cursor's state in C memory, so that passing it to C costs no pointer
// check: the entry a seek landed on, and what the last fill did.
typedef struct {
	const char *key, *value; // the entry, in RocksDB's memory
	size_t klen, vlen;
	int n;     // entries kw_fill copied
	int state; // after kw_fill: see kwOn* below
} kw_cursor;

enum { kwOnEntry = 0, kwOnUnread = 1, kwExhausted = 2 };

// RocksDB counts every iterator step in a thread-local perf context unless
// the thread's perf level says not to (its default counts); kwindow reads no
// perf context, so the cursor turns the counting off on the thread it runs
// on, each call (goroutines change threads): -2.4 % instructions for a
// query over many keys.

static int kw_seek(rocksdb_iterator_t *it, const char *k, size_t klen, kw_cursor *c) {
	rocksdb_set_perf_level(1);
	rocksdb_iter_seek(it, k, klen);
	if (!rocksdb_iter_valid(it)) return 0;
	c->key = rocksdb_iter_key(it, &c->klen);
	c->value = rocksdb_iter_value(it, &c->vlen);
	return 1;
}

// kw_fill copies up to max entries into buf (cap bytes), each as its key's
// and value's lengths (uint32, native order) then the key and the value,
// starting at the iterator's entry (after moving past it if advance). It
// leaves the iterator on the first entry not copied (kwOnUnread) or past the
// last (kwExhausted). An entry larger than buf is not copied: if it comes
// first, the cursor points at it in RocksDB's memory (kwOnEntry).
static void kw_fill(rocksdb_iterator_t *it, kw_cursor *c, char *buf, size_t cap, int max, int advance) {
	size_t used = 0;
	c->n = 0;
	rocksdb_set_perf_level(1);
	if (advance) rocksdb_iter_next(it);
	for (;;) {
		if (!rocksdb_iter_valid(it)) {
			c->state = kwExhausted;
			return;
		}
		if (c->n == max) {
			c->state = kwOnUnread;
			return;
		}
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl), *v = rocksdb_iter_value(it, &vl);
		size_t need = 8 + kl + vl;
		if (need > cap - used) {
			if (c->n == 0) {
				c->key = k, c->klen = kl, c->value = v, c->vlen = vl;
				c->state = kwOnEntry;
			} else {
				c->state = kwOnUnread;
			}
			return;
		}
		uint32_t l[2] = {(uint32_t)kl, (uint32_t)vl};
		memcpy(buf + used, l, 8);
		memcpy(buf + used + 8, k, kl);
		memcpy(buf + used + 8 + kl, v, vl);
		used += need;
		c->n++;
		rocksdb_iter_next(it);
	}
}
*/
import "C"

import (
	"encoding/binary"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// rocksCursor walks a RocksDB iterator with few cgo calls: a seek reads the
// entry it lands on in the same call, and the entries after it are copied in
// batches into a buffer in C memory, one cgo call per batch instead of one per
// entry (a range query of one key over a day reads 1,440 entries). A batch is
// one entry after a seek and doubles with each refill, up to maxBatch: a scan
// that seeks after a few entries (to the next group) copies little it does not
// read. Keys and values are handed out without allocating, in the buffer or
// RocksDB's memory, and are valid until the cursor moves, as grocksdb's are.
type rocksCursor struct {
	it    *C.rocksdb_iterator_t
	c     *C.kw_cursor // C memory
	buf   []byte       // C memory, batchBytes; nil until the first fill
	rest  []byte       // buf from the first entry not handed out yet
	left  int          // the entries in rest
	k, v  []byte
	ok    bool
	state C.int // the iterator's position after the last seek or fill
	batch int   // entries the next fill copies at most
}

const (
	batchBytes = 64 << 10
	maxBatch   = 256
)

func newRocksCursor(it *grocksdb.Iterator) *rocksCursor {
	return &rocksCursor{it: cIterator(it), c: (*C.kw_cursor)(C.calloc(1, C.sizeof_kw_cursor))}
}

// close frees the cursor's C memory. The cursor must not be used after.
func (c *rocksCursor) close() {
	C.free(unsafe.Pointer(c.c))
	if c.buf != nil {
		C.free(unsafe.Pointer(&c.buf[0]))
	}
	c.c, c.buf, c.rest, c.left, c.ok = nil, nil, nil, 0, false
}

// cIterator returns the RocksDB iterator it wraps. grocksdb does not export
// it; v1.7.14 (pinned in go.mod) keeps it as Iterator's only field, and
// TestCursorIteratorLayout fails if a later version changes that.
func cIterator(it *grocksdb.Iterator) *C.rocksdb_iterator_t {
	return *(**C.rocksdb_iterator_t)(unsafe.Pointer(it))
}

func (c *rocksCursor) seek(key []byte) {
	var k *C.char
	if len(key) > 0 {
		k = (*C.char)(unsafe.Pointer(&key[0]))
	}
	c.rest, c.left, c.batch = nil, 0, 1
	c.ok = C.kw_seek(c.it, k, C.size_t(len(key)), c.c) != 0
	if !c.ok {
		c.state = C.kwExhausted
		return
	}
	c.state = C.kwOnEntry
	c.direct()
}

// direct points the cursor at the entry in RocksDB's memory that the C cursor holds.
func (c *rocksCursor) direct() {
	c.k = unsafe.Slice((*byte)(unsafe.Pointer(c.c.key)), int(c.c.klen))
	c.v = unsafe.Slice((*byte)(unsafe.Pointer(c.c.value)), int(c.c.vlen))
}

func (c *rocksCursor) valid() bool { return c.ok }

func (c *rocksCursor) next() {
	if !c.ok {
		return
	}
	if c.left == 0 && !c.fill() {
		return
	}
	kl := int(binary.NativeEndian.Uint32(c.rest))
	vl := int(binary.NativeEndian.Uint32(c.rest[4:]))
	c.k, c.v = c.rest[8:8+kl:8+kl], c.rest[8+kl:8+kl+vl:8+kl+vl]
	c.rest = c.rest[8+kl+vl:]
	c.left--
}

// fill copies the next batch of entries into the buffer. It returns false if
// the cursor is done with the buffer: at the end, or at an entry too large for
// the buffer, which it points at directly.
func (c *rocksCursor) fill() bool {
	if c.state == C.kwExhausted {
		c.ok = false
		return false
	}
	if c.buf == nil {
		c.buf = unsafe.Slice((*byte)(C.malloc(batchBytes)), batchBytes)
	}
	C.kw_fill(c.it, c.c, (*C.char)(unsafe.Pointer(&c.buf[0])), batchBytes, C.int(c.batch), boolInt(c.state == C.kwOnEntry))
	c.batch = min(2*c.batch, maxBatch)
	c.state = c.c.state
	if c.c.n == 0 {
		c.ok = c.state == C.kwOnEntry
		if c.ok {
			c.direct()
		}
		return false
	}
	c.rest, c.left = c.buf, int(c.c.n)
	return true
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (c *rocksCursor) key() []byte   { return c.k }
func (c *rocksCursor) value() []byte { return c.v }
