package store

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// TestCursorIteratorLayout: rocksCursor reads the RocksDB iterator out of
// grocksdb.Iterator's only field (cIterator). A grocksdb whose Iterator holds
// anything else would make it read garbage: this fails first.
func TestCursorIteratorLayout(t *testing.T) {
	typ := reflect.TypeFor[grocksdb.Iterator]()
	if typ.NumField() != 1 || typ.Field(0).Type.Kind() != reflect.Pointer || typ.Field(0).Offset != 0 ||
		typ.Size() != unsafe.Sizeof(uintptr(0)) {
		t.Fatalf("grocksdb.Iterator is %v with %d fields: cIterator expects one C pointer", typ, typ.NumField())
	}
}

// TestCursorMatchesIterator: the cursor sees every entry, key and value, that
// grocksdb's own iterator methods give, from a seek in the middle to the end.
func TestCursorMatchesIterator(t *testing.T) {
	r, err := OpenRocks(t.TempDir(), RocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b Batch
	for i := range 500 {
		b.Put(Key{Agg: "a", Group: AppendGroup(nil, []byte{byte(i % 7), 'x'}), Start: int64(i) * 60_000}, []byte{byte(i), byte(i >> 8), 9})
	}
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	it, ref := r.db.NewIterator(ro), r.db.NewIterator(ro)
	defer it.Close()
	defer ref.Close()
	c := newRocksCursor(it)
	from := Key{Agg: "a", Group: AppendGroup(nil, []byte{3, 'x'})}.Append(nil)
	c.seek(from)
	ref.Seek(from)
	n := 0
	for ; ref.Valid(); ref.Next() {
		if !c.valid() {
			t.Fatalf("cursor ended after %d entries; the iterator goes on", n)
		}
		if k, v := ref.Key().Data(), ref.Value().Data(); string(c.key()) != string(k) || string(c.value()) != string(v) {
			t.Fatalf("entry %d: cursor %x=%x, iterator %x=%x", n, c.key(), c.value(), k, v)
		}
		c.next()
		n++
	}
	if c.valid() || n < 200 {
		t.Fatalf("cursor valid %v after the iterator's %d entries", c.valid(), n)
	}
	c.seek([]byte{0xff, 0xff})
	if c.valid() {
		t.Fatal("valid after a seek past the last key")
	}
}

// TestCursorBatches: the cursor agrees with grocksdb's iterator over entries
// of every size, some larger than its buffer (batchBytes) and some filling it
// within a few bytes, through random walks of seeks and runs of nexts that
// cross its batches' boundaries, up to past the last entry.
func TestCursorBatches(t *testing.T) {
	r, err := OpenRocks(t.TempDir(), RocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	var b Batch
	var keys [][]byte
	for i := range 3000 {
		n := rng.IntN(300)
		switch rng.IntN(50) {
		case 0:
			n = batchBytes + rng.IntN(100) - 50 // around the buffer's size
		case 1:
			n = 0
		case 2:
			n = batchBytes/2 - 30 + rng.IntN(20) // two fill the buffer but for a few bytes
		}
		v := make([]byte, n)
		for j := range v {
			v[j] = byte(i + j)
		}
		k := Key{Agg: "a", Group: AppendGroup(nil, []byte{byte(i % 5)}), Start: int64(i)}
		b.Put(k, v)
		keys = append(keys, k.Append(nil))
	}
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	it, ref := r.db.NewIterator(ro), r.db.NewIterator(ro)
	defer it.Close()
	defer ref.Close()
	c := newRocksCursor(it)
	defer c.close()
	entries := 0
	for walk := range 300 {
		from := keys[rng.IntN(len(keys))]
		if walk%50 == 0 {
			from = []byte{0}
		}
		c.seek(from)
		ref.Seek(from)
		steps := rng.IntN(1000)
		if walk%7 == 0 {
			steps = 1 << 20 // to the end
		}
		for n := 0; ; n++ {
			if c.valid() != ref.Valid() {
				t.Fatalf("walk %d from %x, entry %d: cursor valid %v, iterator %v", walk, from, n, c.valid(), ref.Valid())
			}
			if !ref.Valid() || n == steps {
				break
			}
			if k, v := ref.Key().Data(), ref.Value().Data(); !bytes.Equal(c.key(), k) || !bytes.Equal(c.value(), v) {
				t.Fatalf("walk %d from %x, entry %d: cursor %x (%d bytes), iterator %x (%d bytes)", walk, from, n, c.key(), len(c.value()), k, len(v))
			}
			c.next()
			ref.Next()
			entries++
		}
	}
	t.Logf("%d entries compared", entries)
}
