// Package storetest is the conformance suite of store.Store: every
// implementation must pass Run.
package storetest

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

// Option changes what Run checks.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, dir string) store.Store
}

// Durable declares that the store persists in a directory: open(t, dir)
// opens the store kept in dir, creating it if needed. Run then also checks
// that data and checkpoint survive Close and reopening.
func Durable(open func(t *testing.T, dir string) store.Store) Option {
	return func(c *config) { c.reopen = open }
}

// Run runs the suite. open returns a new, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"KeyOrder", testKeyOrder},
		{"MixedArity", testMixedArity},
		{"RangeBounds", testRangeBounds},
		{"Window", testWindow},
		{"Groups", testGroups},
		{"Windows", testWindows},
		{"Get", testGet},
		{"InvalidKeys", testInvalidKeys},
		{"BatchSemantics", testBatchSemantics},
		{"WriteAtomicity", testWriteAtomicity},
		{"Checkpoint", testCheckpoint},
		{"DeleteBefore", testDeleteBefore},
		{"DeleteBeforeMany", testDeleteBeforeMany},
		{"RandomOps", testRandomOps},
		{"Stats", testStats},
		{"Closed", testClosed},
		{"ConcurrentReaders", testConcurrentReaders},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, fresh(t)) })
	}
	t.Run("Reopen", func(t *testing.T) {
		if cfg.reopen == nil {
			t.Skip("store is not durable")
		}
		testReopen(t, cfg.reopen)
	})
}

// group encodes dimension values given as strings.
func group(values ...string) []byte {
	bs := make([][]byte, len(values))
	for i, v := range values {
		bs[i] = []byte(v)
	}
	return store.AppendGroup(nil, bs...)
}

// compareTuples orders dimension tuples value by value, a tuple before its
// extensions: the order encoded groups must have.
func compareTuples(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if c := bytes.Compare([]byte(a[i]), []byte(b[i])); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func mustWrite(t *testing.T, s store.Store, fill func(b *store.Batch)) {
	t.Helper()
	var b store.Batch
	fill(&b)
	if err := s.Write(&b); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// window is a copy of an Entry, kept after the callback.
type window struct {
	group []byte
	start int64
	value string
}

func rangeAll(t *testing.T, s store.Store, agg string, g []byte, from, to int64) []window {
	t.Helper()
	var got []window
	err := s.Range(agg, g, from, to, func(e store.Entry) bool {
		if e.Key.Agg != agg || !bytes.Equal(e.Key.Group, g) {
			t.Errorf("Range(%q, %x) returned key (%q, %x)", agg, g, e.Key.Agg, e.Key.Group)
		}
		got = append(got, window{bytes.Clone(e.Key.Group), e.Key.Start, string(e.Value)})
		return true
	})
	if err != nil {
		t.Fatalf("Range(%q, %x, %d, %d): %v", agg, g, from, to, err)
	}
	return got
}

func windowAll(t *testing.T, s store.Store, agg string, start int64) []window {
	t.Helper()
	var got []window
	err := s.Window(agg, start, func(e store.Entry) bool {
		if e.Key.Agg != agg || e.Key.Start != start {
			t.Errorf("Window(%q, %d) returned key (%q, %d)", agg, start, e.Key.Agg, e.Key.Start)
		}
		got = append(got, window{bytes.Clone(e.Key.Group), e.Key.Start, string(e.Value)})
		return true
	})
	if err != nil {
		t.Fatalf("Window(%q, %d): %v", agg, start, err)
	}
	return got
}

func groupsAll(t *testing.T, s store.Store, agg string) [][]byte {
	t.Helper()
	var got [][]byte
	if err := s.Groups(agg, func(g []byte) bool {
		got = append(got, bytes.Clone(g))
		return true
	}); err != nil {
		t.Fatalf("Groups(%q): %v", agg, err)
	}
	return got
}

// dump reads every window of agg through Groups and Range.
func dump(t *testing.T, s store.Store, agg string) []window {
	t.Helper()
	var all []window
	for _, g := range groupsAll(t, s, agg) {
		ws := rangeAll(t, s, agg, g, math.MinInt64, math.MaxInt64)
		if len(ws) == 0 {
			t.Errorf("Groups(%q) returned %x, which has no windows", agg, g)
		}
		all = append(all, ws...)
	}
	return all
}

func equalWindows(a, b []window) bool {
	return slices.EqualFunc(a, b, func(x, y window) bool {
		return bytes.Equal(x.group, y.group) && x.start == y.start && x.value == y.value
	})
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("%s: got error %v, want ErrInvalidKey", what, err)
	}
}
