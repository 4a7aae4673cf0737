package storetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

func testClosed(t *testing.T, s store.Store) {
	k := store.Key{Agg: "z", Group: group("g"), Start: 1}
	mustWrite(t, s, func(b *store.Batch) { b.Put(k, []byte("v")) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	f := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	var b store.Batch
	b.Put(k, []byte("w"))
	f("Write", s.Write(&b))
	b.Put(store.Key{}, nil)
	f("Write of an invalid batch", s.Write(&b))
	_, _, err := s.Get(k)
	f("Get", err)
	f("Range", s.Range("z", group("g"), 0, 10, func(store.Entry) bool { return true }))
	f("Window", s.Window("z", 1, func(store.Entry) bool { return true }))
	f("Groups", s.Groups("z", func([]byte) bool { return true }))
	f("Windows", s.Windows("z", 0, 10, func(store.Entry) bool { return true }))
	_, err = s.DeleteBefore("z", 10)
	f("DeleteBefore", err)
	_, _, err = s.Checkpoint()
	f("Checkpoint", err)
	_, err = s.Stats()
	f("Stats", err)
}

// testConcurrentReaders runs readers against a writer whose every batch
// rewrites all windows with one number: a reader seeing two numbers in one
// query saw part of a batch, and a number going down saw time run backwards.
// Readers also query from inside callbacks.
func testConcurrentReaders(t *testing.T, s store.Store) {
	const batches, groups, windows = 100, 10, 5
	g := func(i int) []byte { return group(fmt.Sprint(i)) }
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		var b store.Batch
		for n := uint64(1); n <= batches; n++ {
			b.Reset()
			for i := range groups {
				for w := range windows {
					b.Put(store.Key{Agg: "cc", Group: g(i), Start: int64(w)}, binary.BigEndian.AppendUint64(nil, n))
				}
			}
			b.SetCheckpoint(store.Checkpoint{InputOffset: int64(n)})
			if err := s.Write(&b); err != nil {
				t.Errorf("Write %d: %v", n, err)
				return
			}
		}
	})
	for r := range 3 {
		wg.Go(func() {
			var last uint64
			see := func(what string, values []uint64, wantLen int) {
				if len(values) == 0 {
					return
				}
				if len(values) != wantLen {
					t.Errorf("reader %d: %s saw %d windows, want %d", r, what, len(values), wantLen)
				}
				for _, v := range values {
					if v != values[0] {
						t.Errorf("reader %d: %s saw batches %d and %d in one query", r, what, values[0], v)
						return
					}
				}
				if values[0] < last {
					t.Errorf("reader %d: %s saw batch %d after %d", r, what, values[0], last)
				}
				last = values[0]
			}
			for i := 0; !done.Load() || i < 10; i++ {
				var ws []uint64
				err := s.Window("cc", int64(i%windows), func(e store.Entry) bool {
					ws = append(ws, binary.BigEndian.Uint64(e.Value))
					return true
				})
				if err != nil {
					t.Errorf("Window: %v", err)
					return
				}
				see("Window", ws, groups)
				err = s.Groups("cc", func(grp []byte) bool {
					var rs []uint64
					if err := s.Range("cc", grp, math.MinInt64, math.MaxInt64, func(e store.Entry) bool {
						rs = append(rs, binary.BigEndian.Uint64(e.Value))
						return true
					}); err != nil {
						t.Errorf("Range: %v", err)
					}
					see("Range", rs, windows)
					return false
				})
				if err != nil {
					t.Errorf("Groups: %v", err)
					return
				}
				if v, ok, err := s.Get(store.Key{Agg: "cc", Group: g(i % groups), Start: 0}); err != nil {
					t.Errorf("Get: %v", err)
				} else if ok {
					see("Get", []uint64{binary.BigEndian.Uint64(v)}, 1)
				}
				if _, err := s.Stats(); err != nil {
					t.Errorf("Stats: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if cp, ok, err := s.Checkpoint(); err != nil || !ok || cp.InputOffset != batches {
		t.Errorf("final checkpoint = %+v, %v, %v; want InputOffset %d", cp, ok, err, batches)
	}
}

func testReopen(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	dir := t.TempDir()
	s := open(t, dir)
	for round := range 3 {
		mustWrite(t, s, func(b *store.Batch) {
			for i := range 20 {
				b.Put(store.Key{Agg: "p", Group: group(fmt.Sprint(i), "\x00"), Start: int64(round)}, fmt.Appendf(nil, "%d/%d", i, round))
			}
			b.Delete(store.Key{Agg: "p", Group: group("3", "\x00"), Start: int64(round)})
			b.SetCheckpoint(store.Checkpoint{InputOffset: int64(round), StreamTime: -5, ChangelogOffsets: map[string]int64{"p": int64(100 + round)}})
		})
	}
	if n, err := s.DeleteBefore("p", 1); err != nil || n != 19 {
		t.Fatalf("DeleteBefore = %d, %v; want 19", n, err)
	}
	want := dump(t, s, "p")
	wantCP, _, _ := s.Checkpoint()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for reopen := range 2 {
		s = open(t, dir)
		if got := dump(t, s, "p"); !equalWindows(got, want) || len(want) != 38 {
			t.Errorf("reopen %d: %d windows, want the %d written (38)", reopen, len(got), len(want))
		}
		cp, ok, err := s.Checkpoint()
		if err != nil || !ok || cp.InputOffset != wantCP.InputOffset || cp.StreamTime != -5 || !maps.Equal(cp.ChangelogOffsets, wantCP.ChangelogOffsets) {
			t.Errorf("reopen %d: checkpoint %+v, %v, %v; want %+v", reopen, cp, ok, err, wantCP)
		}
		if v, ok, err := s.Get(store.Key{Agg: "p", Group: group("7", "\x00"), Start: 2}); err != nil || !ok || string(v) != "7/2" {
			t.Errorf("reopen %d: Get = %q, %v, %v", reopen, v, ok, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}
