package store_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

const (
	benchBatch  = 1000 // window aggregates per Write, about one commit interval's dirty windows
	benchValue  = 200  // bytes per encoded aggregate
	benchGroups = 1000
)

// benchGroupKeys returns group keys shaped like request-log dimensions.
func benchGroupKeys() [][]byte {
	groups := make([][]byte, benchGroups)
	for i := range groups {
		groups[i] = store.AppendGroup(nil, fmt.Appendf(nil, "/api/v1/resource/%d", i), []byte("200"), []byte("eu-west-1"))
	}
	return groups
}

// benchValueBytes is an aggregate-like value: a few varints and sketch
// buckets, compressible but not trivially.
func benchValueBytes(rnd *rand.Rand) []byte {
	v := make([]byte, benchValue)
	for i := range v {
		v[i] = byte(rnd.IntN(16))
	}
	return v
}

// benchWrite writes b.N batches of benchBatch windows: each batch is the
// next minute of every group.
func benchWrite(b *testing.B, s store.Store) {
	groups := benchGroupKeys()
	rnd := rand.New(rand.NewPCG(1, 2))
	value := benchValueBytes(rnd)
	var batch store.Batch
	var keyBytes int
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		batch.Reset()
		for i := range benchBatch {
			k := store.Key{Agg: "endpoint_1m", Group: groups[i%benchGroups], Start: int64(n+i/benchGroups) * 60_000}
			if n == 0 {
				keyBytes += len(k.Append(nil))
			}
			value[0] = byte(n)
			batch.Put(k, value)
		}
		batch.SetCheckpoint(store.Checkpoint{InputOffset: int64(n), StreamTime: int64(n) * 60_000, ChangelogOffsets: map[string]int64{"endpoint_1m": int64(n)}})
		if err := s.Write(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(keyBytes + benchBatch*benchValue))
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "windows/s")
}

func openBenchRocks(b *testing.B) *store.Rocks {
	r, err := store.OpenRocks(b.TempDir(), store.RocksOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func BenchmarkRocksWriteBatch(b *testing.B) { benchWrite(b, openBenchRocks(b)) }

func BenchmarkMemoryWriteBatch(b *testing.B) { benchWrite(b, store.NewMemory()) }

// BenchmarkRocksRange reads one group's last hour of 1-minute windows out of
// a day of windows for 100 groups, flushed to table files.
func BenchmarkRocksRange(b *testing.B) {
	const groups, windows = 100, 1440
	dir := b.TempDir()
	r, err := store.OpenRocks(dir, store.RocksOptions{})
	if err != nil {
		b.Fatal(err)
	}
	keys := benchGroupKeys()[:groups]
	rnd := rand.New(rand.NewPCG(1, 2))
	value := benchValueBytes(rnd)
	var batch store.Batch
	for w := range windows {
		batch.Reset()
		for _, g := range keys {
			batch.Put(store.Key{Agg: "endpoint_1m", Group: g, Start: int64(w) * 60_000}, value)
		}
		if err := r.Write(&batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Close(); err != nil { // flush, so reads come from table files
		b.Fatal(err)
	}
	if r, err = store.OpenRocks(dir, store.RocksOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })

	b.ReportAllocs()
	read := 0
	for i := 0; b.Loop(); i++ {
		g := keys[i%groups]
		to := int64(windows-i%(windows-60)) * 60_000
		err := r.Range("endpoint_1m", g, to-60*60_000, to, func(e store.Entry) bool {
			read += len(e.Value)
			return true
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(read)/float64(b.N)/benchValue, "windows/op")
	b.ReportMetric(float64(read)/benchValue/b.Elapsed().Seconds(), "windows/s")
}

func BenchmarkAppendGroup(b *testing.B) {
	values := [][]byte{[]byte("/api/v1/orders/{id}"), []byte("503"), []byte("eu-west-1")}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = store.AppendGroup(buf[:0], values...)
	}
	if testing.AllocsPerRun(100, func() { buf = store.AppendGroup(buf[:0], values[0], values[1], values[2]) }) != 0 {
		b.Fatal("AppendGroup allocates")
	}
}
