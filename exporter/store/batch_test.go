package store

import (
	"bytes"
	"fmt"
	"testing"
)

// The keys Put and Delete return are the keys' encodings, and stay intact while
// the batch grows, until Reset.
func TestBatchReturnsKeys(t *testing.T) {
	var b Batch
	type held struct {
		k   Key
		enc []byte
	}
	var keys []held
	for i := range 2000 { // enough to grow the buffer many times over
		k := Key{Agg: "a", Group: AppendGroup(nil, []byte(fmt.Sprint(i)), []byte{0, 'x'}), Start: int64(i) - 1000}
		var enc []byte
		if i%3 == 0 {
			enc = b.Delete(k)
		} else {
			enc = b.Put(k, bytes.Repeat([]byte{byte(i)}, i%300))
		}
		keys = append(keys, held{k, enc})
	}
	for i, h := range keys {
		if want := h.k.Append(nil); !bytes.Equal(h.enc, want) {
			t.Fatalf("key %d: got %x, want %x", i, h.enc, want)
		}
		if cap(h.enc) != len(h.enc) {
			t.Fatalf("key %d: capacity %d past its length %d: an append would overwrite the batch", i, cap(h.enc), len(h.enc))
		}
	}
	if enc := b.Put(Key{Agg: "", Start: 1}, []byte("v")); enc != nil {
		t.Fatalf("invalid key: got %x, want nil", enc)
	}
	if enc := b.Put(Key{Agg: "a", Start: 1}, []byte("v")); enc != nil {
		t.Fatalf("valid key after an invalid one: got %x, want nil", enc)
	}
	b.Reset()
	if enc := b.Put(Key{Agg: "a", Start: 1}, []byte("v")); !bytes.Equal(enc, Key{Agg: "a", Start: 1}.Append(nil)) {
		t.Fatalf("after Reset: got %x", enc)
	}
}
