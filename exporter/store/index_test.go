package store

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// TestPartitionedIndex: table files carry a two-level index and partitioned
// filters, so that index and filter blocks enter the block cache in small
// partitions. A whole-file index of a 64 MiB table file is nearly 2 MB,
// larger than a shard of the default cache (1 MiB of 64): it was evicted as
// soon as it was used, and each query read and parsed it again.
func TestPartitionedIndex(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRocks(dir, RocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for g := range 2000 {
		for w := range 20 {
			b.Put(Key{Agg: "a", Group: AppendGroup(nil, fmt.Appendf(nil, "/api/v1/endpoint/%05d", g)), Start: int64(w) * 60_000}, make([]byte, 100))
		}
	}
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // flushes the memtable into a table file
		t.Fatal(err)
	}
	if r, err = OpenRocks(dir, RocksOptions{}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	props := r.db.GetProperty("rocksdb.aggregated-table-properties")
	m := regexp.MustCompile(`# index partitions=(\d+)`).FindStringSubmatch(props)
	if m == nil {
		t.Fatalf("no index partitions in the table properties: %s", props)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Errorf("%s index partitions for 40,000 keys, want several (4 KiB each): %s", m[1], props)
	}
}
