package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
}

func TestRocks(t *testing.T) {
	cache := store.NewBlockCache(8 << 20)
	t.Cleanup(cache.Close)
	open := func(t *testing.T, dir string) store.Store {
		t.Helper()
		r, err := store.OpenRocks(dir, store.RocksOptions{BlockCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) }, storetest.Durable(open))
}

func TestRocksPrivateCacheAndWAL(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		r, err := store.OpenRocks(filepath.Join(t.TempDir(), "a", "b"), store.RocksOptions{WAL: true, WriteBufferSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

func TestRocksOptionsInvalid(t *testing.T) {
	f := func(o store.RocksOptions) {
		t.Helper()
		if r, err := store.OpenRocks(t.TempDir(), o); err == nil {
			r.Close()
			t.Errorf("OpenRocks(%+v) succeeded", o)
		}
	}
	f(store.RocksOptions{WriteBufferSize: -1})
	f(store.RocksOptions{MaxWriteBuffers: -2})
	f(store.RocksOptions{BloomBitsPerKey: math.NaN()})
	closed := store.NewBlockCache(1 << 20)
	closed.Close()
	closed.Close()
	f(store.RocksOptions{BlockCache: closed})
}

// TestRocksLockedDir checks that RocksDB's lock keeps a second store off a
// directory in use.
func TestRocksLockedDir(t *testing.T) {
	dir := t.TempDir()
	r, err := store.OpenRocks(dir, store.RocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r2, err := store.OpenRocks(dir, store.RocksOptions{}); err == nil {
		r2.Close()
		t.Fatal("opened a directory twice")
	}
}

// TestRocksCloseWaits closes the store from inside a Range callback's
// lifetime: Close must wait, since freeing the iterator would leave the
// callback reading freed memory.
func TestRocksCloseWaits(t *testing.T) {
	r, err := store.OpenRocks(t.TempDir(), store.RocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	for i := range 3 {
		b.Put(store.Key{Agg: "a", Start: int64(i)}, []byte("value"))
	}
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error)
	err = r.Range("a", nil, 0, 3, func(e store.Entry) bool {
		if e.Key.Start == 0 {
			go func() { closed <- r.Close() }()
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case <-closed:
			t.Error("Close returned while a callback ran")
		default:
		}
		if string(e.Value) != "value" {
			t.Errorf("value %q", e.Value)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get(store.Key{Agg: "a"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
}

// TestRocksMatchesMemory applies the same random writes and retention to
// both stores, with memtables small enough that most reads come from table
// files after flushes and compactions, and compares every query.
func TestRocksMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	r, err := store.OpenRocks(dir, store.RocksOptions{WriteBufferSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Close() }()
	m := store.NewMemory()
	stores := []store.Store{m, r}

	rnd := rand.New(rand.NewPCG(5, 6))
	values := [][]byte{nil, {0}, {0, 0}, {1}, []byte("a"), []byte("a\x00"), {0xff}}
	var b store.Batch
	for round := range 200 {
		b.Reset()
		for range 100 {
			k := store.Key{
				Agg:   []string{"p", "q"}[rnd.IntN(2)],
				Group: store.AppendGroup(nil, values[rnd.IntN(len(values))], fmt.Appendf(nil, "%d", rnd.IntN(20))),
				Start: int64(rnd.IntN(100)-20) * 60_000,
			}
			if rnd.IntN(5) == 0 {
				b.Delete(k)
			} else {
				b.Put(k, bytes.Repeat([]byte{byte(round)}, 100+rnd.IntN(200)))
			}
		}
		for _, s := range stores {
			if err := s.Write(&b); err != nil {
				t.Fatal(err)
			}
		}
		if round%50 == 49 {
			before := int64(round/50*10-10) * 60_000
			nm, err1 := m.DeleteBefore("p", before)
			nr, err2 := r.DeleteBefore("p", before)
			if err1 != nil || err2 != nil || nm != nr || nm == 0 {
				t.Fatalf("DeleteBefore(%d): memory %d, %v; rocks %d, %v", before, nm, err1, nr, err2)
			}
		}
		if round == 100 { // half the data from reopened table files
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if r, err = store.OpenRocks(dir, store.RocksOptions{WriteBufferSize: 64 << 10}); err != nil {
				t.Fatal(err)
			}
			stores[1] = r
		}
	}

	type result []string
	collect := func(s store.Store, agg string) (res result) {
		add := func(e store.Entry) bool {
			res = append(res, fmt.Sprintf("%x/%d/%x", e.Key.Group, e.Key.Start, e.Value))
			return true
		}
		if err := s.Groups(agg, func(g []byte) bool {
			res = append(res, fmt.Sprintf("group %x", g))
			if err := s.Range(agg, g, -10*60_000, 50*60_000, add); err != nil {
				t.Fatal(err)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		for w := int64(-25); w < 85; w += 7 {
			if err := s.Window(agg, w*60_000, add); err != nil {
				t.Fatal(err)
			}
		}
		return res
	}
	for _, agg := range []string{"p", "q"} {
		mr, rr := collect(m, agg), collect(r, agg)
		if !slices.Equal(mr, rr) {
			t.Errorf("agg %s: memory and rocks differ: %d vs %d results", agg, len(mr), len(rr))
		}
		if len(mr) < 100 {
			t.Errorf("agg %s: only %d results", agg, len(mr))
		}
	}
	if st, _ := r.Stats(); st.Keys == 0 || st.LiveBytes == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestBlockCacheClosedFirst closes a shared cache while a store still uses
// it: RocksDB keeps the cache alive until the store closes.
func TestBlockCacheClosedFirst(t *testing.T) {
	cache := store.NewBlockCache(1 << 20)
	r, err := store.OpenRocks(t.TempDir(), store.RocksOptions{BlockCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	cache.Close()
	if cache.Usage() != 0 {
		t.Error("Usage of a closed cache is not 0")
	}
	var b store.Batch
	b.Put(store.Key{Agg: "a", Start: 1}, []byte("v"))
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := r.Get(store.Key{Agg: "a", Start: 1}); err != nil || !ok || string(v) != "v" {
		t.Errorf("Get = %q, %v, %v", v, ok, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
