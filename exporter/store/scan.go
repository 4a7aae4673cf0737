package store

import (
	"bytes"
	"fmt"
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

func scanRange(c cursor, agg string, lo, hi []byte, fn func(Entry) bool) error {
	for c.seek(lo); c.valid(); c.next() {
		k := c.key()
		if bytes.Compare(k, hi) >= 0 {
			return nil
		}
		_, group, start, ok := splitStored(k, len(agg)+1)
		if !ok {
			return malformed(k)
		}
		if !fn(Entry{Key: Key{Agg: agg, Group: group, Start: start}, Value: c.value()}) {
			return nil
		}
	}
	return nil
}

// scanWindow visits each group of agg once: it seeks to the group's window
// at start, reports it if present, and seeks past the group.
func scanWindow(c cursor, agg string, lo, hi []byte, start int64, fn func(Entry) bool) error {
	var target []byte
	c.seek(lo)
	for c.valid() {
		k := c.key()
		if bytes.Compare(k, hi) >= 0 {
			return nil
		}
		prefix, group, s, ok := splitStored(k, len(agg)+1)
		if !ok {
			return malformed(k)
		}
		if s < start {
			target = appendStart(append(target[:0], prefix...), start)
			c.seek(target)
			continue
		}
		if s == start && !fn(Entry{Key: Key{Agg: agg, Group: group, Start: s}, Value: c.value()}) {
			return nil
		}
		target = incLast(append(target[:0], prefix...))
		c.seek(target)
	}
	return nil
}

func scanGroups(c cursor, agg string, lo, hi []byte, fn func(group []byte) bool) error {
	var target []byte
	c.seek(lo)
	for c.valid() {
		k := c.key()
		if bytes.Compare(k, hi) >= 0 {
			return nil
		}
		prefix, group, _, ok := splitStored(k, len(agg)+1)
		if !ok {
			return malformed(k)
		}
		if !fn(group) {
			return nil
		}
		target = incLast(append(target[:0], prefix...))
		c.seek(target)
	}
	return nil
}

// scanBefore calls fn with every key of agg whose Start < before, reading
// only those and the first later window of each group.
func scanBefore(c cursor, agg string, lo, hi []byte, before int64, fn func(key []byte)) error {
	var target []byte
	c.seek(lo)
	for c.valid() {
		k := c.key()
		if bytes.Compare(k, hi) >= 0 {
			return nil
		}
		prefix, _, s, ok := splitStored(k, len(agg)+1)
		if !ok {
			return malformed(k)
		}
		if s < before {
			fn(k)
			c.next()
			continue
		}
		target = incLast(append(target[:0], prefix...))
		c.seek(target)
	}
	return nil
}

func malformed(k []byte) error {
	return fmt.Errorf("store: malformed stored key %x", k)
}
