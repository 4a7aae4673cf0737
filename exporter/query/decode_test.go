package query

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// encodeAgg is the stored encoding of a (nil: no aggregate), for comparisons:
// equal encodings are equal counts, sums, bounds and sketch buckets.
func encodeAgg(t testing.TB, a *aggregate.Aggregate) []byte {
	t.Helper()
	if a == nil {
		return nil
	}
	b, err := aggregate.Value{Agg: a}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mergeReference merges val into *dst the way the decoder and mergeWindow
// replace: aggregate's own decoder, then Aggregate.Merge.
func mergeReference(dst **aggregate.Aggregate, val []byte, withSketch bool) error {
	var v aggregate.Value
	if err := v.UnmarshalBinary(val); err != nil {
		return err
	}
	if !withSketch {
		v.Agg.Sketch = nil
	}
	if *dst == nil {
		*dst = v.Agg
	} else {
		(*dst).Merge(v.Agg)
	}
	return nil
}

// TestDecoderAgrees checks windowDecoder, newAggregate and mergeWindow against
// aggregate's own decoder and Aggregate.Merge on the windows of a real
// pipeline, with and without sketches: each window decodes to the same
// aggregate, and the windows of each key merged one way or the other encode to
// the same bytes (the same sketch buckets, not only close quantiles).
func TestDecoderAgrees(t *testing.T) {
	_, srcs := pipeline(t)
	var d windowDecoder
	n := 0
	for _, src := range srcs {
		for _, name := range []string{"req_1m", "counts_1m"} {
			for _, withSketch := range []bool{false, true} {
				var group []byte
				var got, want *aggregate.Aggregate
				check := func() {
					if g, w := encodeAgg(t, got), encodeAgg(t, want); !bytes.Equal(g, w) {
						t.Fatalf("%s %x, sketch %v: merged\n%x\nwant\n%x", name, group, withSketch, g, w)
					}
				}
				err := src.Store.Windows(name, math.MinInt64, maxStart, func(e store.Entry) bool {
					if !bytes.Equal(e.Key.Group, group) {
						check()
						group, got, want = append(group[:0], e.Key.Group...), nil, nil
					}
					var v aggregate.Value
					if err := v.UnmarshalBinary(e.Value); err != nil {
						t.Fatal(err)
					}
					end, last, agg, sk, err := d.decode(e.Value, withSketch)
					if err != nil || end != v.End || last != v.Last || (sk != nil) != (withSketch && v.Agg.Sketch != nil) {
						t.Fatalf("%s %x: decoded %d %d %+v %x, %v; want %d %d %+v", name, e.Key.Group, end, last, agg, sk, err, v.End, v.Last, v.Agg)
					}
					one, err := d.newAggregate(agg, sk)
					if err != nil {
						t.Fatal(err)
					}
					w := v.Agg
					if !withSketch {
						w.Sketch = nil
					}
					if g, w := encodeAgg(t, one), encodeAgg(t, w); !bytes.Equal(g, w) {
						t.Fatalf("%s %x: decoded\n%x\nwant\n%x", name, e.Key.Group, g, w)
					}
					if err := d.mergeWindow(&got, agg, sk); err != nil {
						t.Fatal(err)
					}
					if err := mergeReference(&want, e.Value, withSketch); err != nil {
						t.Fatal(err)
					}
					n++
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				check()
			}
		}
	}
	if n == 0 {
		t.Fatal("no windows")
	}
}

// TestMergeWindow merges windows of different sketch schemas, with and
// without sketches, and corrupt ones, into one aggregate: the result matches
// aggregate's decoder and Merge exactly after each window, and a corrupt window
// is an error that leaves the aggregate unchanged (its sketch is not read when
// no quantile is asked, as before: only its header counts then).
func TestMergeWindow(t *testing.T) {
	value := func(schema int32, withSketch bool, vals ...float64) []byte {
		a := aggregate.New(schema, withSketch)
		for _, v := range vals {
			a.Count++
			a.Values++
			a.Sum += v
			a.Min, a.Max = min(a.Min, v), max(a.Max, v)
			if a.Sketch != nil {
				a.Sketch.Add(v)
			}
		}
		a.ServerErrors = uint64(len(vals) / 3)
		b, err := aggregate.Value{End: t0 + minute, Last: t0 + 1, Agg: a}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := value(6, true, 0.01, 0.02, 0.5)
	header := len(value(6, false, 0.01, 0.02, 0.5)) // good without its sketch
	tests := []struct {
		name    string
		windows [][]byte
	}{
		{"same schema", [][]byte{good, value(6, true, 0.03, 1.5), value(6, true)}},
		{"lower schema second", [][]byte{good, value(3, true, 0.2, 0.7, 9)}},
		{"higher schema second", [][]byte{value(2, true, 7), value(8, true, 0.001, 0.002)}},
		{"no sketch first", [][]byte{value(6, false, 1, 2), good, value(6, false, 3)}},
		{"empty windows", [][]byte{value(6, true), value(6, false), good}},
		{"corrupt sketch", [][]byte{good, good[:len(good)-1], good}},
		{"corrupt first", [][]byte{good[:len(good)-3], good}},
		{"sketch cut to 1 byte", [][]byte{good, good[:header+1]}},
		{"sketch cut to 0 bytes", [][]byte{good, good[:header]}},
		{"trailing byte", [][]byte{good, append(bytes.Clone(good), 0)}},
		{"no value", [][]byte{good, nil, {1}}},
	}
	var d windowDecoder
	for _, tt := range tests {
		for _, withSketch := range []bool{true, false} {
			var got, want *aggregate.Aggregate
			for i, w := range tt.windows {
				before := encodeAgg(t, got)
				_, _, agg, sk, err := d.decode(w, withSketch)
				if err == nil {
					err = d.mergeWindow(&got, agg, sk)
				}
				werr := mergeReference(&want, w, withSketch)
				if !withSketch && errors.Is(werr, sketch.ErrCorrupt) {
					// Without quantiles the sketch's bytes are skipped, not
					// checked: the window counts as its header, good's.
					werr = mergeReference(&want, value(6, false, 0.01, 0.02, 0.5), false)
				}
				if (err == nil) != (werr == nil) {
					t.Fatalf("%s, sketch %v, window %d: %v, want %v", tt.name, withSketch, i, err, werr)
				}
				if err != nil {
					if after := encodeAgg(t, got); !bytes.Equal(after, before) {
						t.Fatalf("%s, sketch %v, window %d: a failed merge changed the aggregate", tt.name, withSketch, i)
					}
					continue
				}
				if g, w := encodeAgg(t, got), encodeAgg(t, want); !bytes.Equal(g, w) {
					t.Fatalf("%s, sketch %v, window %d: merged\n%x\nwant\n%x", tt.name, withSketch, i, g, w)
				}
			}
		}
	}
}

// TestLatestDecodes checks the windows of a Latest answer against the stored
// values read back with store.Get and aggregate's decoder: the same end, last
// event time and aggregate, the sketch only when a quantile is asked.
func TestLatestDecodes(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{})
	_, srcs := pipeline(t)
	for _, ms := range [][]Measure{{{Kind: Quantile, Q: 0.9}}, {{Kind: Count}}} {
		withSketch := ms[0].Kind == Quantile
		r, err := l.Latest(context.Background(), srcs, LatestQuery{Aggregation: "req_1m", Measures: ms})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range r.Keys {
			group := store.AppendGroup(nil, []byte(k.Key[0]), []byte(k.Key[1]), []byte(k.Key[2]))
			ws := k.Open
			if k.Closed != nil {
				ws = append([]Window{*k.Closed}, ws...)
			}
			for _, w := range ws {
				b, ok, err := srcs[k.Partition].Store.Get(store.Key{Agg: "req_1m", Group: group, Start: w.Start})
				if err != nil || !ok {
					t.Fatalf("%q at %d: %v, %v", k.Key, w.Start, ok, err)
				}
				var v aggregate.Value
				if err := v.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
				if !withSketch {
					v.Agg.Sketch = nil
				}
				if w.End != v.End || w.Last != v.Last || !bytes.Equal(encodeAgg(t, w.Agg), encodeAgg(t, v.Agg)) {
					t.Fatalf("%q at %d, sketch %v: %d %d %+v, want %d %d %+v", k.Key, w.Start, withSketch, w.End, w.Last, w.Agg, v.End, v.Last, v.Agg)
				}
				n++
			}
		}
		if n == 0 {
			t.Fatal("no windows")
		}
	}
}
