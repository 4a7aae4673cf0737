package store

import (
	"fmt"
	"testing"
)

// countingCursor counts the keys a scan lands on.
type countingCursor struct {
	cursor
	reads, seeks int
}

func (c *countingCursor) seek(key []byte) { c.cursor.seek(key); c.reads++; c.seeks++ }
func (c *countingCursor) next()           { c.cursor.next(); c.reads++ }

// TestScanCost checks that Window, Groups, DeleteBefore and Windows seek past
// groups instead of reading their windows: their cost grows with the number of
// groups, not windows. Seeks, dearer than steps, are bounded on their own.
func TestScanCost(t *testing.T) {
	const groups, windows = 100, 500
	m := NewMemory()
	var b Batch
	for g := range groups {
		for w := range windows {
			b.Put(Key{Agg: "a", Group: AppendGroup(nil, fmt.Appendf(nil, "%d", g)), Start: int64(w)}, nil)
		}
	}
	b.Put(Key{Agg: "b", Start: 0}, nil)
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	lo, hi := aggBounds("a")
	f := func(name string, maxReads, maxSeeks, wantCalls int, scan func(c cursor) (calls int, err error)) {
		t.Helper()
		c := &countingCursor{cursor: &memCursor{items: m.sorted}}
		calls, err := scan(c)
		if err != nil {
			t.Fatal(err)
		}
		if calls != wantCalls {
			t.Errorf("%s: %d callbacks, want %d", name, calls, wantCalls)
		}
		if c.reads > maxReads {
			t.Errorf("%s: read %d keys, want at most %d", name, c.reads, maxReads)
		}
		if c.seeks > maxSeeks {
			t.Errorf("%s: %d seeks, want at most %d", name, c.seeks, maxSeeks)
		}
	}
	// The window in the middle of each group: a seek to it, a few steps past
	// it, then a seek to the next group.
	f("Window", groups*(skipAfter+2)+1, 2*groups+1, groups, func(c cursor) (n int, err error) {
		err = scanWindow(c, "a", lo, hi, windows/2, func(Entry) bool { n++; return true })
		return n, err
	})
	// The last window of each group: a seek to it, a step to the next group.
	f("Window/last", 2*groups+1, groups+1, groups, func(c cursor) (n int, err error) {
		err = scanWindow(c, "a", lo, hi, windows-1, func(Entry) bool { n++; return true })
		return n, err
	})
	f("Groups", groups+1, groups+1, groups, func(c cursor) (n int, err error) {
		err = scanGroups(c, "a", lo, hi, func([]byte) bool { n++; return true })
		return n, err
	})
	f("DeleteBefore", groups*11+1, groups+1, groups*10, func(c cursor) (n int, err error) {
		err = scanBefore(c, "a", lo, hi, 10, func([]byte) { n++ })
		return n, err
	})
	// The last two windows of each group: a few steps, one seek, two reads, and
	// one step into the next group.
	f("Windows", groups*(skipBeforeSeek+3)+1, groups+1, groups*2, func(c cursor) (n int, err error) {
		err = scanWindows(c, "a", lo, hi, windows-2, windows, func(Entry) bool { n++; return true })
		return n, err
	})
	// Two windows in the middle: as many steps past them as allowed, then a
	// seek to the next group.
	f("Windows/middle", groups*(skipBeforeSeek+skipAfter+4)+1, 2*groups+1, groups*2, func(c cursor) (n int, err error) {
		err = scanWindows(c, "a", lo, hi, windows/2, windows/2+2, func(Entry) bool { n++; return true })
		return n, err
	})
}
