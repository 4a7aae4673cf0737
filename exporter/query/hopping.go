package query

import (
	"bytes"
	"cmp"
	"fmt"
	"iter"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/internal/satint"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// Hopping windows. Stage 2 stores a hopping window whole, under the
// aggregation's name, only once it has closed; until then the window is the
// merge of its panes, stored in variants under store.PaneAgg(agg, v) (see
// there). hopping reads such an aggregation as the store read when it held
// every window: closed windows as stored, open ones assembled from their
// panes, both in the store's order (group, then start), encoded as
// aggregate.Value. The queries read through it as they read a store.
//
// Three rules keep an answer from counting an event twice or a window half:
//
//   - A window stored under the aggregation is final and taken as stored, never
//     re-assembled: panes overlapping it remain while later windows need them.
//   - Only windows open at the source's stream time are assembled. A window
//     closed by then is stored, or was deleted by retention while panes it
//     shares with open windows remain. This also bounds the panes read: a
//     window open at stream time st starts after st - size - grace, so a
//     query of older windows reads no pane at all.
//   - Panes are read before windows. A commit in between that closes a window
//     (writing it and deleting its panes) is then seen as the stored window;
//     read the other way round, the window would be missed.
type hopping struct {
	st         store.Store
	name       string
	spec       window.Spec
	streamTime int64
	variants   int // ceil(size/advance): a time is in at most that many windows
}

func newHopping(src Source, a *aggInfo) *hopping {
	return &hopping{st: src.Store, name: a.name, spec: a.spec, streamTime: src.StreamTime,
		variants: int((a.spec.Size-1)/a.spec.Advance + 1)}
}

// scanWindows calls fn for the windows of a in src with from <= Start < to, in
// key order: those of group if exact, else every group's. Hopping windows are
// read through hopping, every other kind straight from the store.
func scanWindows(src Source, a *aggInfo, exact bool, group []byte, from, to int64, fn func(store.Entry) bool) error {
	switch {
	case a.spec.Kind == window.Hopping && exact:
		return newHopping(src, a).Range(group, from, to, fn)
	case a.spec.Kind == window.Hopping:
		return newHopping(src, a).Windows(from, to, fn)
	case exact:
		return src.Store.Range(a.name, group, from, to, fn)
	}
	return src.Store.Windows(a.name, from, to, fn)
}

// scanGroups calls fn for the distinct groups of a in src, ascending: for
// hopping windows, those with stored windows or panes.
func scanGroups(src Source, a *aggInfo, fn func(group []byte) bool) error {
	if a.spec.Kind == window.Hopping {
		return newHopping(src, a).Groups(fn)
	}
	return src.Store.Groups(a.name, fn)
}

// paneRange returns the starts of the panes that can fall into a window open
// at stream time and starting in [from, to): [lo, hi), empty if lo >= hi.
func (h *hopping) paneRange(from, to int64) (lo, hi int64) {
	// Open at stream time st: s + size + grace > st. A window's panes start
	// in [s, s+size).
	lo = from
	if span := satint.Add(h.spec.Size, h.spec.Grace); h.streamTime >= math.MinInt64+span {
		lo = max(lo, h.streamTime-span+1)
	}
	if lo >= to {
		return lo, lo
	}
	return lo, satint.Add(to, h.spec.Size)
}

// Range is store.Store.Range for the aggregation's windows of one group: it
// assembles the group's open windows from one scan per pane variant, then
// merges them into the scan of its stored windows.
func (h *hopping) Range(group []byte, from, to int64, fn func(store.Entry) bool) error {
	if from >= to {
		return nil
	}
	as := h.newAssembly(from, to)
	as.reset(group)
	if lo, hi := h.paneRange(from, to); lo < hi {
		for v := range h.variants {
			var err error
			serr := h.st.Range(store.PaneAgg(h.name, v), group, lo, hi, func(e store.Entry) bool {
				err = as.add(e.Key.Start, v, e.Value)
				return err == nil
			})
			if err = cmp.Or(serr, err); err != nil {
				return err
			}
		}
	}
	if err := as.finish(); err != nil {
		return err
	}
	loaded := false
	m := merger{as: as, fn: fn, load: func(*assembly) (bool, error) {
		ok := !loaded && len(as.wins) > 0
		loaded = true
		return ok, nil
	}}
	return m.run(func(visit func(store.Entry) bool) error { return h.st.Range(h.name, group, from, to, visit) })
}

// Windows is store.Store.Windows for the aggregation's windows.
//
// Each pane variant is scanned once, pulled entry by entry (iter.Pull) and
// merged by group with the others and with the scan of the stored windows:
// only one group's panes are held at a time, however many groups the scans
// cover. Pulling costs a coroutine switch per pane, and panes are few: those
// of the open windows.
func (h *hopping) Windows(from, to int64, fn func(store.Entry) bool) error {
	if from >= to {
		return nil
	}
	as := h.newAssembly(from, to)
	var panes []*paneStream
	defer func() {
		for _, s := range panes {
			s.stop()
		}
	}()
	if lo, hi := h.paneRange(from, to); lo < hi {
		// Each variant's scan starts at its first pull, here: every one before
		// the windows' scan.
		for v := range h.variants {
			name := store.PaneAgg(h.name, v)
			panes = append(panes, pull(v, func(yield func(store.Entry) bool) error {
				return h.st.Windows(name, lo, hi, yield)
			}))
		}
	}
	m := merger{as: as, fn: fn, load: func(as *assembly) (bool, error) { return loadNext(panes, as) }}
	if err := m.run(func(visit func(store.Entry) bool) error { return h.st.Windows(h.name, from, to, visit) }); err != nil {
		return err
	}
	for _, s := range panes {
		s.stop()
		if s.err != nil {
			return s.err
		}
	}
	return nil
}

// Groups is store.Store.Groups for the aggregation: the groups that have
// stored windows or panes.
func (h *hopping) Groups(fn func(group []byte) bool) error {
	var panes []string
	for v := range h.variants {
		if err := h.st.Groups(store.PaneAgg(h.name, v), func(g []byte) bool {
			panes = append(panes, string(g))
			return true
		}); err != nil {
			return err
		}
	}
	slices.Sort(panes)
	panes = slices.Compact(panes)
	i, done := 0, false
	emitBefore := func(all bool, g []byte) {
		for ; !done && i < len(panes) && (all || panes[i] < string(g)); i++ {
			done = !fn([]byte(panes[i]))
		}
	}
	err := h.st.Groups(h.name, func(g []byte) bool {
		if emitBefore(false, g); done {
			return false
		}
		if i < len(panes) && panes[i] == string(g) {
			i++
		}
		done = !fn(g)
		return !done
	})
	if err != nil {
		return err
	}
	emitBefore(true, nil)
	return nil
}

// paneStream is one variant's scan of panes, pulled entry by entry: head is
// valid until the next advance.
type paneStream struct {
	variant int
	next    func() (store.Entry, bool)
	stop    func()
	head    store.Entry
	ok      bool
	err     error // the scan's, once it has returned
}

// pull starts scan and reads its first entry.
func pull(variant int, scan func(yield func(store.Entry) bool) error) *paneStream {
	s := &paneStream{variant: variant}
	s.next, s.stop = iter.Pull(func(yield func(store.Entry) bool) { s.err = scan(yield) })
	s.advance()
	return s
}

func (s *paneStream) advance() { s.head, s.ok = s.next() }

// loadNext assembles into as the next group of the streams that has an open
// window, and reports whether there was one.
func loadNext(panes []*paneStream, as *assembly) (bool, error) {
	for {
		var least *paneStream
		for _, s := range panes {
			if s.err != nil {
				return false, s.err
			}
			if s.ok && (least == nil || bytes.Compare(s.head.Key.Group, least.head.Key.Group) < 0) {
				least = s
			}
		}
		if least == nil {
			return false, nil
		}
		as.reset(least.head.Key.Group) // copies it before the streams move
		for _, s := range panes {
			for s.ok && bytes.Equal(s.head.Key.Group, as.group) {
				if err := as.add(s.head.Key.Start, s.variant, s.head.Value); err != nil {
					return false, err
				}
				s.advance()
			}
		}
		if err := as.finish(); err != nil {
			return false, err
		}
		if len(as.wins) > 0 {
			return true, nil
		}
	}
}

// merger interleaves the windows of a scan of the stored windows with the
// assembled windows of the groups load loads, in key order.
type merger struct {
	fn   func(store.Entry) bool
	load func(*assembly) (bool, error)
	as   *assembly // the group loaded, if ok
	ok   bool
	i    int // as.wins[i:] are still to visit
	done bool
	err  error
}

func (m *merger) run(scan func(visit func(store.Entry) bool) error) error {
	if m.ok, m.err = m.load(m.as); m.err != nil {
		return m.err
	}
	serr := scan(func(e store.Entry) bool {
		if m.before(false, e.Key.Group, e.Key.Start); m.done || m.err != nil {
			return false
		}
		m.done = !m.fn(e)
		return !m.done
	})
	if serr != nil {
		return serr
	}
	if m.err == nil && !m.done {
		m.before(true, nil, 0)
	}
	return m.err
}

// before visits the assembled windows that sort before (group, start), or
// all of them; an assembled window at (group, start) is skipped, as the
// stored one replaces it.
func (m *merger) before(all bool, group []byte, start int64) {
	for m.ok && !m.done {
		c := -1
		if !all {
			c = bytes.Compare(m.as.group, group)
		}
		if c > 0 {
			return
		}
		wins := m.as.wins
		for ; m.i < len(wins) && (c < 0 || wins[m.i].start < start); m.i++ {
			w := &wins[m.i]
			if m.done = !m.fn(store.Entry{Key: store.Key{Agg: m.as.name, Group: m.as.group, Start: w.start}, Value: w.val}); m.done {
				return
			}
		}
		if c == 0 {
			if m.i < len(wins) && wins[m.i].start == start {
				m.i++
			}
			return
		}
		m.i = 0
		if m.ok, m.err = m.load(m.as); m.err != nil {
			return
		}
	}
}

// assembly is one group's open windows starting in [from, to), assembled from
// its panes.
type assembly struct {
	h        *hopping
	name     string
	from, to int64
	group    []byte
	wins     []assembled // ascending by start
	enc      []byte      // the encodings of wins
	assign   []window.Window
	dec      windowDecoder
	// sketches are the windows' sketches, reused from group to group: a
	// window's aggregate lives only until it is encoded.
	sketches []*sketch.Sketch
	used     int // sketches[:used] belong to wins
}

// assembled is one open window.
type assembled struct {
	start, last int64
	agg         aggregate.Aggregate
	val         []byte // its encoding, once finished
}

func (h *hopping) newAssembly(from, to int64) *assembly {
	return &assembly{h: h, name: h.name, from: from, to: to}
}

// reset starts assembling group, which it copies.
func (as *assembly) reset(group []byte) {
	as.group = append(as.group[:0], group...)
	clear(as.wins)
	as.wins = as.wins[:0]
	as.used = 0
}

// sketch returns a sketch for a window, to be overwritten.
func (as *assembly) sketch() *sketch.Sketch {
	if as.used == len(as.sketches) {
		as.sketches = append(as.sketches, &sketch.Sketch{})
	}
	as.used++
	return as.sketches[as.used-1]
}

// add merges variant v of the pane starting at p into the open windows it goes
// to.
//
// The pane's sketch stays encoded: the first window it goes to decodes it, the
// others merge it with sketch.MergeBinary (see windowDecoder). A pane's decoded
// sketch, several KiB of buckets, would cost an allocation per pane.
func (as *assembly) add(p int64, v int, value []byte) error {
	_, last, pane, sk, err := as.dec.decode(value, true)
	if err != nil {
		return fmt.Errorf("%s pane at %d: %w", store.PaneAgg(as.name, v), p, err)
	}
	spec := &as.h.spec
	as.assign = spec.Assign(as.assign[:0], p)
	if v >= len(as.assign) {
		return nil // a variant past the windows of p: it goes to none
	}
	for _, w := range as.assign[v:] {
		if w.Start < as.from || w.Start >= as.to || spec.Closed(w, as.h.streamTime) {
			continue
		}
		i, found := slices.BinarySearchFunc(as.wins, w.Start, func(x assembled, s int64) int { return cmpInt(x.start, s) })
		if !found {
			as.wins = slices.Insert(as.wins, i, assembled{start: w.Start, last: last, agg: aggregate.Aggregate{Min: math.Inf(1), Max: math.Inf(-1)}})
		}
		x := &as.wins[i]
		switch {
		case sk == nil:
		case x.agg.Sketch == nil:
			x.agg.Sketch = as.sketch()
			if err := x.agg.Sketch.UnmarshalBinary(sk); err != nil {
				return fmt.Errorf("%s pane at %d: %w", store.PaneAgg(as.name, v), p, corruptSketch(err))
			}
		default:
			if err := x.agg.Sketch.MergeBinary(sk); err != nil {
				return fmt.Errorf("%s pane at %d: %w", store.PaneAgg(as.name, v), p, corruptSketch(err))
			}
		}
		x.agg.Merge(pane) // its sketch, if any, is one the decoder's fallback decoded
		x.last = max(x.last, last)
	}
	return nil
}

// finish encodes the windows assembled.
func (as *assembly) finish() error {
	as.enc = as.enc[:0]
	for i := range as.wins {
		w := &as.wins[i]
		n := len(as.enc)
		var err error
		if as.enc, err = (aggregate.Value{End: w.start + as.h.spec.Size, Last: w.last, Agg: &w.agg}).AppendBinary(as.enc); err != nil {
			return err
		}
		w.val = as.enc[n:len(as.enc):len(as.enc)]
	}
	return nil
}
