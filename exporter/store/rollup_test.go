package store_test

import (
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

func TestRollupAgg(t *testing.T) {
	if got := store.RollupAgg("endpoint_1m", 3_600_000); got != "endpoint_1m@3600000" {
		t.Errorf("RollupAgg = %q", got)
	}
	f := func(name, agg string, res int64, ok bool) {
		t.Helper()
		a, r, k := store.ParseRollupAgg(name)
		if a != agg || r != res || k != ok {
			t.Errorf("ParseRollupAgg(%q) = %q, %d, %v; want %q, %d, %v", name, a, r, k, agg, res, ok)
		}
	}
	f("endpoint_1m@3600000", "endpoint_1m", 3_600_000, true)
	f("endpoint_1m", "", 0, false)
	f("@60000", "", 0, false)
	f("a@0", "", 0, false)
	f("a@-1", "", 0, false)
	f("a@01", "", 0, false)
	f("a@1x", "", 0, false)
	f("a@9223372036854775807", "a", 9223372036854775807, true)
	f("a@9223372036854775808", "", 0, false)
}

// A rollup's keys are a range of their own: the aggregation's scans and
// retention never see them, nor the other way round, and they round-trip
// through ParseKey.
func TestRollupKeysApart(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	roll := store.RollupAgg("a", 3_600_000)
	g := store.AppendGroup(nil, []byte("x"))
	var b store.Batch
	b.Put(store.Key{Agg: "a", Group: g, Start: 0}, []byte("base"))
	b.Put(store.Key{Agg: roll, Group: g, Start: 0}, []byte("roll"))
	b.Put(store.Key{Agg: "a@", Group: g, Start: 0}, []byte("other")) // not a rollup name, still apart
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	count := func(agg string) (n int) {
		if err := st.Windows(agg, -1<<62, 1<<62, func(store.Entry) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count("a") != 1 || count(roll) != 1 {
		t.Errorf("windows of a: %d, of %s: %d; want 1 each", count("a"), roll, count(roll))
	}
	if n, err := st.DeleteBefore("a", 1); err != nil || n != 1 {
		t.Errorf("DeleteBefore(a) = %d, %v; want 1", n, err)
	}
	if v, ok, _ := st.Get(store.Key{Agg: roll, Group: g, Start: 0}); !ok || string(v) != "roll" {
		t.Errorf("the rollup went with the aggregation's retention: %q %v", v, ok)
	}
	k, err := store.ParseKey(store.Key{Agg: roll, Group: g, Start: 7}.Append(nil))
	if err != nil || k.Agg != roll || k.Start != 7 {
		t.Errorf("ParseKey = %+v, %v", k, err)
	}
}
