package store

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
)

// Memory is a Store held in memory: a map for point access plus a slice of
// the same items sorted by encoded key for scans. It is safe for concurrent
// use. Queries gather their results under a read lock and call back after
// releasing it, so a callback may query the store and a slow one never blocks
// the writer.
type Memory struct {
	mu     sync.RWMutex
	index  map[string]*item
	sorted []*item // by key
	bytes  uint64  // len(key)+len(value) over all items
	cp     *Checkpoint
	closed bool
}

// item is one stored window. key never changes; value is replaced, never
// modified, so a slice of it read under the lock stays valid after.
type item struct {
	key   []byte
	value []byte
	dead  bool // deleted by the Write in progress
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{index: make(map[string]*item)}
}

// Write applies b under the write lock, so readers see all of it or none.
// Existing keys are updated in place; new keys are sorted among themselves
// and merged into the sorted slice once per Write.
func (m *Memory) Write(b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if b.err != nil {
		return fmt.Errorf("store: write: %w", b.err)
	}
	var added []*item
	removed := false
	b.each(func(del bool, key, value []byte) {
		it := m.index[string(key)]
		switch {
		case del && it != nil:
			delete(m.index, string(key))
			it.dead = true
			removed = true
			m.bytes -= uint64(len(it.key) + len(it.value))
		case del:
		case it != nil:
			m.bytes += uint64(len(value)) - uint64(len(it.value))
			it.value = bytes.Clone(value)
		default:
			it = &item{key: bytes.Clone(key), value: bytes.Clone(value)}
			m.index[string(it.key)] = it
			added = append(added, it)
			m.bytes += uint64(len(it.key) + len(it.value))
		}
	})
	if removed {
		m.sorted = slices.DeleteFunc(m.sorted, func(it *item) bool { return it.dead })
		added = slices.DeleteFunc(added, func(it *item) bool { return it.dead })
	}
	if len(added) > 0 {
		m.sorted = mergeItems(m.sorted, added)
	}
	if b.hasCP {
		cp := cloneCheckpoint(b.cp)
		m.cp = &cp
	}
	return nil
}

// mergeItems merges the unsorted new items into sorted, in place from the
// back: each new item costs a binary search, and existing items move at most
// once per Write.
func mergeItems(sorted, added []*item) []*item {
	byKey := func(a, b *item) int { return bytes.Compare(a.key, b.key) }
	slices.SortFunc(added, byKey)
	old := len(sorted)
	sorted = slices.Grow(sorted, len(added))[:old+len(added)]
	end := old // sorted[:end] holds the existing items not yet moved
	w := len(sorted)
	for j := len(added) - 1; j >= 0; j-- {
		p, _ := slices.BinarySearchFunc(sorted[:end], added[j], byKey)
		w -= end - p
		copy(sorted[w:], sorted[p:end])
		end = p
		w--
		sorted[w] = added[j]
	}
	return sorted
}

// Get returns a copy of the value of k.
func (m *Memory) Get(k Key) ([]byte, bool, error) {
	if err := m.usable(k); err != nil {
		return nil, false, err
	}
	var kb [64]byte
	key := k.Append(kb[:0])
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	it := m.index[string(key)]
	if it == nil {
		return nil, false, nil
	}
	return append(make([]byte, 0, len(it.value)), it.value...), true, nil
}

// Range implements Store.
func (m *Memory) Range(agg string, group []byte, from, to int64, fn func(Entry) bool) error {
	if err := m.usable(Key{Agg: agg, Group: group}); err != nil {
		return err
	}
	if from >= to {
		return nil
	}
	lo, hi := rangeBounds(agg, group, from, to)
	return m.gather(fn, func(c cursor, emit func(Entry) bool) error {
		return scanRange(c, agg, lo, hi, emit)
	})
}

// Window implements Store.
func (m *Memory) Window(agg string, start int64, fn func(Entry) bool) error {
	if err := m.usable(Key{Agg: agg}); err != nil {
		return err
	}
	lo, hi := aggBounds(agg)
	return m.gather(fn, func(c cursor, emit func(Entry) bool) error {
		return scanWindow(c, agg, lo, hi, start, emit)
	})
}

// Windows implements Store.
func (m *Memory) Windows(agg string, from, to int64, fn func(Entry) bool) error {
	if err := m.usable(Key{Agg: agg}); err != nil {
		return err
	}
	if from >= to {
		return nil
	}
	lo, hi := aggBounds(agg)
	return m.gather(fn, func(c cursor, emit func(Entry) bool) error {
		return scanWindows(c, agg, lo, hi, from, to, emit)
	})
}

// Groups implements Store.
func (m *Memory) Groups(agg string, fn func(group []byte) bool) error {
	if err := m.usable(Key{Agg: agg}); err != nil {
		return err
	}
	lo, hi := aggBounds(agg)
	return m.gather(func(e Entry) bool { return fn(e.Key.Group) }, func(c cursor, emit func(Entry) bool) error {
		return scanGroups(c, agg, lo, hi, func(group []byte) bool { return emit(Entry{Key: Key{Group: group}}) })
	})
}

// usable returns ErrClosed after Close, else the error of a bad query key.
func (m *Memory) usable(k Key) error {
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return k.check()
}

// gather runs scan under the read lock, then hands what it emitted to fn
// without the lock.
func (m *Memory) gather(fn func(Entry) bool, scan func(c cursor, emit func(Entry) bool) error) error {
	var out []Entry
	emit := func(e Entry) bool {
		out = append(out, e)
		return true
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	err := scan(&memCursor{items: m.sorted}, emit)
	m.mu.RUnlock()
	if err != nil {
		return err
	}
	for _, e := range out {
		if !fn(e) {
			break
		}
	}
	return nil
}

// DeleteBefore implements Store.
func (m *Memory) DeleteBefore(agg string, before int64) (int, error) {
	if err := m.usable(Key{Agg: agg}); err != nil {
		return 0, err
	}
	lo, hi := aggBounds(agg)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	n := 0
	err := scanBefore(&memCursor{items: m.sorted}, agg, lo, hi, before, func(key []byte) {
		it := m.index[string(key)]
		delete(m.index, string(key))
		it.dead = true
		m.bytes -= uint64(len(it.key) + len(it.value))
		n++
	})
	if n > 0 {
		m.sorted = slices.DeleteFunc(m.sorted, func(it *item) bool { return it.dead })
	}
	return n, err
}

// Checkpoint implements Store.
func (m *Memory) Checkpoint() (Checkpoint, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Checkpoint{}, false, ErrClosed
	}
	if m.cp == nil {
		return Checkpoint{}, false, nil
	}
	return cloneCheckpoint(*m.cp), true, nil
}

// Stats reports exact figures; Keys counts windows only.
func (m *Memory) Stats() (Stats, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Stats{}, ErrClosed
	}
	return Stats{Keys: uint64(len(m.index)), LiveBytes: m.bytes}, nil
}

// Close drops the contents.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.index, m.sorted, m.cp = nil, nil, nil
	return nil
}

// memCursor walks a sorted item slice.
type memCursor struct {
	items []*item
	i     int
}

func (c *memCursor) seek(key []byte) {
	c.i, _ = slices.BinarySearchFunc(c.items, key, func(it *item, key []byte) int { return bytes.Compare(it.key, key) })
}
func (c *memCursor) valid() bool   { return c.i < len(c.items) }
func (c *memCursor) next()         { c.i++ }
func (c *memCursor) key() []byte   { return c.items[c.i].key }
func (c *memCursor) value() []byte { return c.items[c.i].value }
