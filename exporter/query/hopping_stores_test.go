package query

import (
	"cmp"
	"errors"

	"github.com/kwindow/kwindow/exporter/store"
)

// spyStore counts the scans of each aggregation name, and runs hook once, as
// soon as the first scan has read the store (at its first entry, or its end).
type spyStore struct {
	store.Store
	scans map[string]int
	hook  func()
}

func newSpy(st store.Store) *spyStore { return &spyStore{Store: st, scans: map[string]int{}} }

func (s *spyStore) fire() {
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
}

func (s *spyStore) wrap(agg string, fn func(store.Entry) bool) func(store.Entry) bool {
	s.scans[agg]++
	return func(e store.Entry) bool {
		s.fire()
		return fn(e)
	}
}

func (s *spyStore) Range(agg string, group []byte, from, to int64, fn func(store.Entry) bool) error {
	defer s.fire()
	return s.Store.Range(agg, group, from, to, s.wrap(agg, fn))
}

func (s *spyStore) Windows(agg string, from, to int64, fn func(store.Entry) bool) error {
	defer s.fire()
	return s.Store.Windows(agg, from, to, s.wrap(agg, fn))
}

func (s *spyStore) Groups(agg string, fn func([]byte) bool) error {
	defer s.fire()
	s.scans[agg]++
	return s.Store.Groups(agg, func(g []byte) bool {
		s.fire()
		return fn(g)
	})
}

// failStore fails the scans of one name with errInjected after passing on
// some of their entries.
type failStore struct {
	store.Store
	name  string
	after int
}

var errInjected = errors.New("injected")

func (s *failStore) scan(agg string, fn func(store.Entry) bool, scan func(func(store.Entry) bool) error) error {
	if agg != s.name {
		return scan(fn)
	}
	n := 0
	err := scan(func(e store.Entry) bool {
		if n == s.after {
			return false
		}
		n++
		return fn(e)
	})
	return cmp.Or(err, errInjected)
}

func (s *failStore) Range(agg string, group []byte, from, to int64, fn func(store.Entry) bool) error {
	return s.scan(agg, fn, func(fn func(store.Entry) bool) error { return s.Store.Range(agg, group, from, to, fn) })
}

func (s *failStore) Windows(agg string, from, to int64, fn func(store.Entry) bool) error {
	return s.scan(agg, fn, func(fn func(store.Entry) bool) error { return s.Store.Windows(agg, from, to, fn) })
}

func (s *failStore) Groups(agg string, fn func([]byte) bool) error {
	return s.scan(agg, func(e store.Entry) bool { return fn(e.Key.Group) }, func(fn func(store.Entry) bool) error {
		return s.Store.Groups(agg, func(g []byte) bool { return fn(store.Entry{Key: store.Key{Group: g}}) })
	})
}
