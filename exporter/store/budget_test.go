package store_test

import (
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

// TestRocksMemtableBudget writes 24 MiB to each of three stores sharing a
// 12 MiB memtable budget and checks, after every write, that their memtables
// together stay within it (plus an arena block of slack each), as a process's
// memory would show. The same writes without the budget hold more: the check
// is not one that passes anyway.
func TestRocksMemtableBudget(t *testing.T) {
	const stores, budget = 3, 12 << 20
	most := func(o store.RocksOptions) uint64 {
		rs := make([]*store.Rocks, stores)
		for i := range rs {
			r, err := store.OpenRocks(t.TempDir(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			rs[i] = r
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		value := make([]byte, 1000)
		var b store.Batch
		var peak uint64
		for w := range 24 * 1024 / 100 { // 100 windows of 1 KB a write: 24 MiB a store
			for _, r := range rs {
				b.Reset()
				for g := range 100 {
					for i := range value {
						value[i] = byte(rnd.Uint32())
					}
					b.Put(store.Key{Agg: "a", Group: store.AppendGroup(nil, []byte{'a' + byte(g%26), 'a' + byte(g/26)}), Start: int64(w) * 60_000}, value)
				}
				if err := r.Write(&b); err != nil {
					t.Fatal(err)
				}
			}
			var sum uint64
			for _, r := range rs {
				st, err := r.Stats()
				if err != nil {
					t.Fatal(err)
				}
				sum += st.MemtableBytes
			}
			peak = max(peak, sum)
		}
		return peak
	}
	// RocksDB allocates a memtable's arena in blocks of an eighth of it.
	const slack = stores * budget / stores / 2 / 8
	if got := most(store.RocksOptions{MemtableBudget: budget, Stores: stores}); got > budget+slack {
		t.Errorf("memtables of %d stores sharing a budget of %d bytes peaked at %d", stores, budget, got)
	}
	if got := most(store.RocksOptions{}); got <= budget+slack {
		t.Errorf("without the budget the memtables peaked at %d, within it", got)
	}
}
