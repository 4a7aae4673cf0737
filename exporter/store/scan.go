package store

import (
	"bytes"
	"fmt"
	"math"
)

// cursor is an ordered walk over a store's encoded keys. Memory and Rocks
// each provide one; the queries below are written once against it. key and
// value are valid until the next seek or next.
type cursor interface {
	seek(key []byte) // to the first key >= key
	valid() bool
	next()
	key() []byte
	value() []byte
}

// rangeBounds returns the first key and the bound above the last key of the
// windows of (agg, group) with from <= Start < to.
func rangeBounds(agg string, group []byte, from, to int64) (lo, hi []byte) {
	prefix := appendPrefix(make([]byte, 0, len(agg)+len(group)+3+startLen), agg, group)
	n := len(prefix)
	lo = appendStart(prefix, from)
	hi = appendStart(append(make([]byte, 0, n+startLen), prefix[:n]...), to)
	return lo, hi
}

// aggBounds returns the first key and the bound above the last key of agg.
func aggBounds(agg string) (lo, hi []byte) {
	lo = appendAggPrefix(nil, agg)
	return lo, incLast(appendAggPrefix(nil, agg))
}

// step says where walk goes after a key.
type step int

const (
	nextKey   step = iota // the key after this one
	nextGroup             // the first key of the next group
	seekStart             // this group's window at the start given to walk's visit
	stop
)

// walk visits the stored keys of agg in [lo, hi) with their parts; visit says
// where to go next, so a query reads only the keys it needs.
func walk(c cursor, agg string, lo, hi []byte, visit func(k, group []byte, start int64) (step, int64)) error {
	var target []byte
	c.seek(lo)
	for c.valid() {
		k := c.key()
		if bytes.Compare(k, hi) >= 0 {
			return nil
		}
		prefix, group, start, ok := splitStored(k, len(agg)+1)
		if !ok {
			return malformed(k)
		}
		switch st, at := visit(k, group, start); st {
		case nextKey:
			c.next()
		case nextGroup:
			target = incLast(append(target[:0], prefix...))
			c.seek(target)
		case seekStart:
			target = appendStart(append(target[:0], prefix...), at)
			c.seek(target)
		default:
			return nil
		}
	}
	return nil
}

func scanRange(c cursor, agg string, lo, hi []byte, fn func(Entry) bool) error {
	return walk(c, agg, lo, hi, func(_, group []byte, start int64) (step, int64) {
		if !fn(Entry{Key: Key{Agg: agg, Group: group, Start: start}, Value: c.value()}) {
			return stop, 0
		}
		return nextKey, 0
	})
}

// scanWindow visits each group of agg once: it seeks to the group's window
// at start, reports it if present, and leaves the group (see skipAfter).
func scanWindow(c cursor, agg string, lo, hi []byte, start int64, fn func(Entry) bool) error {
	var g groupSteps
	return walk(c, agg, lo, hi, func(_, group []byte, s int64) (step, int64) {
		g.enter(group)
		switch {
		case s < start:
			return seekStart, start
		case s == start && !fn(Entry{Key: Key{Agg: agg, Group: group, Start: s}, Value: c.value()}):
			return stop, 0
		}
		return g.leave()
	})
}

// skipBeforeSeek is how many windows before from scanWindows steps over one by
// one before it seeks: a step costs a fraction of a seek, so a group with a few
// old windows is cheaper to walk through, one with many cheaper to jump over.
const skipBeforeSeek = 4

// skipAfter is how many keys past the windows wanted a scan steps over one by
// one before it seeks to the next group. Queries mostly ask for recent windows,
// after which a group holds only its open windows and its running total: a few
// steps reach the next group, where a seek costs as much as a dozen steps (in
// RocksDB it repositions an iterator on every level).
const skipAfter = 4

// groupSteps counts the keys a scan has stepped over in the group it is in,
// before the windows wanted and after them.
type groupSteps struct {
	group         []byte
	before, after int
}

// enter resets the count when group is not the one before.
func (g *groupSteps) enter(group []byte) {
	if !bytes.Equal(group, g.group) {
		g.group, g.before, g.after = append(g.group[:0], group...), 0, 0
	}
}

// leave steps to the next key while the group allows it, then seeks.
func (g *groupSteps) leave() (step, int64) {
	if g.after++; g.after > skipAfter {
		return nextGroup, 0
	}
	return nextKey, 0
}

// scanWindows visits every key of agg with from <= start < to, in key order.
func scanWindows(c cursor, agg string, lo, hi []byte, from, to int64, fn func(Entry) bool) error {
	var g groupSteps
	return walk(c, agg, lo, hi, func(_, group []byte, s int64) (step, int64) {
		g.enter(group)
		switch {
		case s < from:
			if g.before++; g.before > skipBeforeSeek {
				return seekStart, from
			}
			return nextKey, 0
		case s == math.MaxInt64:
			return nextKey, 0 // the group's last possible key: the next is another group's
		case s >= to:
			return g.leave()
		case !fn(Entry{Key: Key{Agg: agg, Group: group, Start: s}, Value: c.value()}):
			return stop, 0
		}
		return nextKey, 0
	})
}

func scanGroups(c cursor, agg string, lo, hi []byte, fn func(group []byte) bool) error {
	return walk(c, agg, lo, hi, func(_, group []byte, _ int64) (step, int64) {
		if !fn(group) {
			return stop, 0
		}
		return nextGroup, 0
	})
}

// scanBefore calls fn with every key of agg whose Start < before, reading
// only those and the first later window of each group.
func scanBefore(c cursor, agg string, lo, hi []byte, before int64, fn func(key []byte)) error {
	return walk(c, agg, lo, hi, func(k, _ []byte, s int64) (step, int64) {
		if s < before {
			fn(k)
			return nextKey, 0
		}
		return nextGroup, 0
	})
}

func malformed(k []byte) error {
	return fmt.Errorf("store: malformed stored key %x", k)
}
