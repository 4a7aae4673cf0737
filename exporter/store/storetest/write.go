package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

func testBatchSemantics(t *testing.T, s store.Store) {
	k := func(i int64) store.Key { return store.Key{Agg: "b", Group: group("g"), Start: i} }
	var b store.Batch
	val := []byte("first")
	b.Put(k(1), val)
	copy(val, "XXXXX") // Put copied the value
	b.Put(k(2), []byte("old"))
	b.Put(k(2), []byte("new")) // the later op wins
	b.Put(k(3), []byte("deleted"))
	b.Delete(k(3))
	b.Delete(k(4))
	b.Put(k(4), []byte("revived"))
	b.Delete(k(5)) // missing: not an error
	if b.Len() != 8 {
		t.Errorf("Len = %d, want 8", b.Len())
	}
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := []window{{group("g"), 1, "first"}, {group("g"), 2, "new"}, {group("g"), 4, "revived"}}
	if got := dump(t, s, "b"); !equalWindows(got, want) {
		t.Errorf("after the batch: %v, want %v", got, want)
	}

	b.Reset()
	if b.Len() != 0 {
		t.Errorf("Len after Reset = %d", b.Len())
	}
	if err := s.Write(&b); err != nil { // empty batch
		t.Fatal(err)
	}
	b.Delete(k(1))
	b.Put(k(2), []byte("newer"))
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	want = []window{{group("g"), 2, "newer"}, {group("g"), 4, "revived"}}
	if got := dump(t, s, "b"); !equalWindows(got, want) {
		t.Errorf("after reusing the batch: %v, want %v", got, want)
	}
}

// testWriteAtomicity writes a batch with one invalid key among valid puts,
// deletes and a checkpoint: none of it may land, and the batch reports the
// key's error.
func testWriteAtomicity(t *testing.T, s store.Store) {
	k := func(i int64) store.Key { return store.Key{Agg: "t", Group: group("g"), Start: i} }
	mustWrite(t, s, func(b *store.Batch) {
		b.Put(k(1), []byte("kept"))
		b.SetCheckpoint(store.Checkpoint{InputOffset: 10, StreamTime: 100, ChangelogOffsets: map[string]int64{"t": 1}})
	})
	var b store.Batch
	b.Put(k(2), []byte("new"))
	b.Delete(k(1))
	b.SetCheckpoint(store.Checkpoint{InputOffset: 20, StreamTime: 200})
	b.Put(store.Key{Agg: "", Start: 3}, []byte("invalid"))
	b.Put(k(4), []byte("after the invalid key"))
	wantInvalid(t, "Write", s.Write(&b))

	if got, want := dump(t, s, "t"), []window{{group("g"), 1, "kept"}}; !equalWindows(got, want) {
		t.Errorf("after a failed Write: %v, want %v", got, want)
	}
	cp, ok, err := s.Checkpoint()
	if err != nil || !ok || cp.InputOffset != 10 {
		t.Errorf("checkpoint after a failed Write = %+v, %v, %v; want InputOffset 10", cp, ok, err)
	}
	b.Reset() // clears the error too
	b.Put(k(2), []byte("new"))
	if err := s.Write(&b); err != nil {
		t.Errorf("Write after Reset: %v", err)
	}
}

func testCheckpoint(t *testing.T, s store.Store) {
	if cp, ok, err := s.Checkpoint(); ok || err != nil {
		t.Fatalf("Checkpoint of a new store = %+v, %v, %v", cp, ok, err)
	}
	f := func(cp store.Checkpoint, withData bool) {
		t.Helper()
		want := cp
		want.ChangelogOffsets = maps.Clone(cp.ChangelogOffsets)
		mustWrite(t, s, func(b *store.Batch) {
			if withData {
				b.Put(store.Key{Agg: "c", Start: cp.StreamTime}, []byte("v"))
			}
			b.SetCheckpoint(cp)
		})
		clear(cp.ChangelogOffsets) // SetCheckpoint copied the map
		got, ok, err := s.Checkpoint()
		if err != nil || !ok {
			t.Fatalf("Checkpoint = %v, %v", ok, err)
		}
		if got.InputOffset != want.InputOffset || got.StreamTime != want.StreamTime || !maps.Equal(got.ChangelogOffsets, want.ChangelogOffsets) {
			t.Errorf("Checkpoint = %+v, want %+v", got, want)
		}
	}
	f(store.Checkpoint{InputOffset: -1, StreamTime: math.MinInt64}, false)
	f(store.Checkpoint{InputOffset: 0, StreamTime: 0, ChangelogOffsets: map[string]int64{}}, true)
	f(store.Checkpoint{InputOffset: math.MaxInt64, StreamTime: math.MaxInt64, ChangelogOffsets: map[string]int64{
		"endpoint_1m": 12345, "status_5m": 0, "": -1, "\x00\xff": math.MaxInt64,
	}}, true)
	f(store.Checkpoint{InputOffset: 42, StreamTime: -1_700_000_000_000, ChangelogOffsets: map[string]int64{"endpoint_1m": 12346}}, false)

	// A batch without a checkpoint keeps the last one.
	mustWrite(t, s, func(b *store.Batch) { b.Put(store.Key{Agg: "c", Start: 1}, []byte("v")) })
	if got, _, _ := s.Checkpoint(); got.InputOffset != 42 || got.ChangelogOffsets["endpoint_1m"] != 12346 {
		t.Errorf("Checkpoint after a batch without one = %+v", got)
	}
}

func testDeleteBefore(t *testing.T, s store.Store) {
	mustWrite(t, s, func(b *store.Batch) {
		for _, agg := range []string{"d", "d2"} {
			for i := range 5 {
				for start := int64(-5); start < 5; start++ {
					b.Put(store.Key{Agg: agg, Group: group(fmt.Sprint(i)), Start: start}, []byte("v"))
				}
			}
		}
	})
	f := func(before int64, want int) {
		t.Helper()
		got, err := s.DeleteBefore("d", before)
		if err != nil || got != want {
			t.Errorf("DeleteBefore(%d) = %d, %v; want %d", before, got, err, want)
		}
	}
	f(math.MinInt64, 0)
	f(-5, 0)
	f(-4, 5)
	f(0, 20)
	f(0, 0)
	if got := dump(t, s, "d"); len(got) != 25 || got[0].start != 0 {
		t.Errorf("after DeleteBefore(0): %d windows, want 25 from start 0", len(got))
	}
	if got := dump(t, s, "d2"); len(got) != 50 {
		t.Errorf("DeleteBefore on d changed d2: %d windows, want 50", len(got))
	}
	f(math.MaxInt64, 25)
	if got := groupsAll(t, s, "d"); len(got) != 0 {
		t.Errorf("groups left after deleting everything: %x", got)
	}
}

// testDeleteBeforeMany deletes more windows than fit one internal chunk.
func testDeleteBeforeMany(t *testing.T, s store.Store) {
	const groups, windows = 7, 1000
	for i := range groups {
		mustWrite(t, s, func(b *store.Batch) {
			for k := range windows {
				b.Put(store.Key{Agg: "many", Group: group(fmt.Sprint(i)), Start: int64(k)}, []byte("v"))
			}
		})
	}
	got, err := s.DeleteBefore("many", windows-1)
	if want := groups * (windows - 1); err != nil || got != want {
		t.Errorf("DeleteBefore = %d, %v; want %d", got, err, want)
	}
	if got := dump(t, s, "many"); len(got) != groups {
		t.Errorf("%d windows left, want %d", len(got), groups)
	}
}

// testRandomOps checks random puts, deletes and retention against a map.
func testRandomOps(t *testing.T, s store.Store) {
	rnd := rand.New(rand.NewPCG(3, 4))
	model := map[string]window{} // by encoded key
	key := func() store.Key {
		return store.Key{
			Agg:   []string{"x", "xy"}[rnd.IntN(2)],
			Group: group(trickyValues[rnd.IntN(len(trickyValues))], trickyValues[rnd.IntN(4)]),
			Start: int64(rnd.IntN(40)-20) * 1000,
		}
	}
	for round := range 30 {
		var b store.Batch
		for range rnd.IntN(200) {
			k := key()
			if rnd.IntN(4) == 0 {
				b.Delete(k)
				delete(model, string(k.Append(nil)))
				continue
			}
			v := fmt.Sprintf("%d-%d", round, rnd.Int())
			b.Put(k, []byte(v))
			model[string(k.Append(nil))] = window{k.Group, k.Start, v}
		}
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
		if round%10 == 9 {
			before := int64(rnd.IntN(40)-20) * 1000
			want := 0
			for enc, w := range model {
				if enc[:2] == "x\x00" && w.start < before {
					delete(model, enc)
					want++
				}
			}
			if got, err := s.DeleteBefore("x", before); err != nil || got != want {
				t.Fatalf("DeleteBefore(x, %d) = %d, %v; want %d", before, got, err, want)
			}
		}
	}
	for _, agg := range []string{"x", "xy"} {
		var want []window
		for _, enc := range slices.Sorted(maps.Keys(model)) {
			if k, _ := store.ParseKey([]byte(enc)); k.Agg == agg {
				want = append(want, model[enc])
			}
		}
		if got := dump(t, s, agg); !equalWindows(got, want) {
			t.Errorf("agg %q: store holds %d windows, model %d (or they differ)", agg, len(got), len(want))
		}
	}
}

func testStats(t *testing.T, s store.Store) {
	mustWrite(t, s, func(b *store.Batch) {
		for i := range 100 {
			b.Put(store.Key{Agg: "s", Group: group("g"), Start: int64(i)}, bytes.Repeat([]byte("v"), 100))
		}
	})
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Keys == 0 || st.LiveBytes < 100*100 {
		t.Errorf("Stats after 100 windows of 100 bytes = %+v", st)
	}
}
