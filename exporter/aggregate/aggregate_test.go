package aggregate

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/event"
)

func ev(v float64, c event.Class) *event.Event {
	return &event.Event{Value: v, HasValue: true, Class: c}
}

func TestAddMergeEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	whole, a, b := New(6, true), New(6, true), New(5, true)
	for i := 0; i < 10000; i++ {
		e := ev(rng.ExpFloat64(), event.Class(rng.IntN(3)))
		if i%10 == 0 {
			e.HasValue = false
		}
		whole.Add(e)
		if i%2 == 0 {
			a.Add(e)
		} else {
			b.Add(e)
		}
	}
	a.Merge(b)
	if a.Count != whole.Count || a.ClientErrors != whole.ClientErrors || a.ServerErrors != whole.ServerErrors ||
		a.Values != whole.Values || a.Min != whole.Min || a.Max != whole.Max || math.Abs(a.Sum-whole.Sum) > 1e-9*whole.Sum {
		t.Fatalf("merged %+v\nwhole  %+v", a, whole)
	}
	if a.Count != 10000 || a.Values != 9000 {
		t.Fatalf("count %d values %d, want 10000 9000", a.Count, a.Values)
	}
	// Merged at the lower schema (5), the sketch counts every value once.
	if a.Sketch.Schema() != 5 || a.Sketch.Count() != 9000 {
		t.Errorf("sketch schema %d count %d, want 5 and 9000", a.Sketch.Schema(), a.Sketch.Count())
	}
	if got, want := a.ErrorRatio(), float64(whole.ServerErrors)/10000; got != want {
		t.Errorf("error ratio %v, want %v", got, want)
	}
}

func TestEmpty(t *testing.T) {
	a := New(6, false)
	for name, v := range map[string]float64{"error ratio": a.ErrorRatio(), "mean": a.Mean(), "p99": a.Quantile(0.99)} {
		if !math.IsNaN(v) {
			t.Errorf("%s of an empty aggregate = %v, want NaN", name, v)
		}
	}
	// Merging into an aggregate without a sketch adopts a copy of the other's.
	o := New(6, true)
	o.Add(ev(1, event.OK))
	a.Merge(o)
	o.Add(ev(2, event.OK))
	if a.Sketch == nil || a.Sketch.Count() != 1 {
		t.Errorf("merged sketch %v, want a private copy with one value", a.Sketch)
	}
}

func TestValueRoundTrip(t *testing.T) {
	f := func(v Value) {
		t.Helper()
		b, err := v.AppendBinary([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		var got Value
		if err := got.UnmarshalBinary(b[len("prefix"):]); err != nil {
			t.Fatal(err)
		}
		g, w := got.Agg, v.Agg
		if got.End != v.End || got.Last != v.Last || g.Count != w.Count || g.ClientErrors != w.ClientErrors ||
			g.ServerErrors != w.ServerErrors || g.Values != w.Values || g.Sum != w.Sum || g.Min != w.Min || g.Max != w.Max {
			t.Errorf("round trip %+v -> %+v", *w, *g)
		}
		if (g.Sketch == nil) != (w.Sketch == nil) || (g.Sketch != nil && (g.Sketch.Count() != w.Sketch.Count() || g.Quantile(0.99) != w.Quantile(0.99))) {
			t.Errorf("sketch did not round-trip")
		}
		// Every truncation is an error, never a panic.
		for i := 0; i < len(b)-len("prefix"); i++ {
			var bad Value
			if err := bad.UnmarshalBinary(b[len("prefix") : len("prefix")+i]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d bytes: error %v, want ErrCorrupt", i, err)
			}
		}
	}
	f(Value{End: 60000, Last: 59999, Agg: New(6, false)})
	withSketch := New(6, true)
	for i := 1; i <= 100; i++ {
		withSketch.Add(ev(float64(i)/1000, event.Class(i%3)))
	}
	f(Value{End: -1, Last: math.MinInt64, Agg: withSketch})
	// A running total: End is the engine's TotalStart, Last the key's latest event.
	f(Value{End: math.MaxInt64, Last: 1_764_000_000_123, Agg: withSketch})
	f(Value{End: math.MaxInt64, Last: math.MaxInt64, Agg: New(6, false)})
	// Longer than AppendBinary's stack buffer: it grows on the heap.
	wide := New(8, true)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 20000; i++ {
		wide.Add(ev(math.Exp(3*rng.NormFloat64()), event.OK))
	}
	f(Value{End: 60000, Last: 1, Agg: wide})
	if b, _ := (Value{Agg: wide}).AppendBinary(nil); len(b) <= scratchLen {
		t.Fatalf("wide value takes %d bytes, want more than %d", len(b), scratchLen)
	}
}

// TestAppendBinaryRoom checks that AppendBinary writes the same bytes after dst's
// contents whatever room dst has to spare, its own stack buffer used or not.
func TestAppendBinaryRoom(t *testing.T) {
	a := New(6, true)
	for i := 1; i <= 300; i++ {
		a.Add(ev(float64(i)/1000, event.Class(i%3)))
	}
	v := Value{End: 120000, Last: 119999, Agg: a}
	want, _ := v.AppendBinary(nil)
	for _, spare := range []int{0, 10, len(want), scratchLen - 1, scratchLen, 4 * scratchLen} {
		dst := append(make([]byte, 0, 3+spare), "pre"...)
		got, _ := v.AppendBinary(dst)
		if string(got[:3]) != "pre" || !bytes.Equal(got[3:], want) {
			t.Fatalf("spare %d: %x, want pre + %x", spare, got, want)
		}
	}
}

func FuzzValue(f *testing.F) {
	a := New(6, true)
	a.Add(ev(0.012, event.ServerError))
	b, _ := Value{End: 1, Last: 2, Agg: a}.AppendBinary(nil)
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v Value
		if v.UnmarshalBinary(data) != nil {
			return
		}
		again, err := v.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var w Value
		if err := w.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}

// TestStorage checks that an aggregate made in a Storage is New's: empty, with a
// sketch of the schema or none, and that reusing a Storage gives a fresh one.
func TestStorage(t *testing.T) {
	var st Storage
	a := st.New(4, true)
	if a.Count != 0 || a.Min != math.Inf(1) || a.Max != math.Inf(-1) || a.Sketch == nil || a.Sketch.Schema() != 4 || a.Sketch.Count() != 0 {
		t.Fatalf("new aggregate %+v", a)
	}
	a.Add(ev(0.02, event.ServerError))
	a.Add(ev(0.03, event.OK))
	if a.Count != 2 || a.ServerErrors != 1 || a.Sketch.Count() != 2 || a.Min != 0.02 || a.Max != 0.03 {
		t.Fatalf("after two events %+v", a)
	}
	b := st.New(6, false)
	if b.Count != 0 || b.Sketch != nil || b.Min != math.Inf(1) {
		t.Fatalf("reused storage without sketch %+v", b)
	}
}
