package store

/*
#cgo LDFLAGS: -lrocksdb
#include <stddef.h>
#include <rocksdb/c.h>

// A cursor's current entry, read in the same call that moved the iterator:
// one cgo call per entry instead of four (valid, key, value, next).
typedef struct {
	const char *key, *value;
	size_t klen, vlen;
} kw_entry;

static int kw_read(rocksdb_iterator_t *it, kw_entry *e) {
	if (!rocksdb_iter_valid(it)) return 0;
	e->key = rocksdb_iter_key(it, &e->klen);
	e->value = rocksdb_iter_value(it, &e->vlen);
	return 1;
}

static int kw_seek(rocksdb_iterator_t *it, const char *k, size_t klen, kw_entry *e) {
	rocksdb_iter_seek(it, k, klen);
	return kw_read(it, e);
}

static int kw_next(rocksdb_iterator_t *it, kw_entry *e) {
	rocksdb_iter_next(it);
	return kw_read(it, e);
}
*/
import "C"

import (
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// rocksCursor walks a RocksDB iterator. It moves the iterator and reads the
// entry it lands on in one cgo call, and hands out the key and value in
// RocksDB's memory, without the allocation grocksdb's Key and Value make per
// call: a range query of one key over a day reads 1,440 entries. The key and
// value are valid until the cursor moves, as grocksdb's are.
type rocksCursor struct {
	it *C.rocksdb_iterator_t
	e  C.kw_entry
	ok bool
}

func newRocksCursor(it *grocksdb.Iterator) *rocksCursor {
	return &rocksCursor{it: cIterator(it)}
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
	c.ok = C.kw_seek(c.it, k, C.size_t(len(key)), &c.e) != 0
}

func (c *rocksCursor) valid() bool { return c.ok }
func (c *rocksCursor) next()       { c.ok = C.kw_next(c.it, &c.e) != 0 }

func (c *rocksCursor) key() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(c.e.key)), int(c.e.klen))
}

func (c *rocksCursor) value() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(c.e.value)), int(c.e.vlen))
}
