package sketch

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// frozenCases are the encoding cases plus latency windows as a query reads
// them: few values, buckets far apart.
func frozenCases() []struct {
	name string
	s    *Sketch
} {
	cases := encodingCases()
	for _, n := range []int{1, 20, 300} {
		cases = append(cases, struct {
			name string
			s    *Sketch
		}{fmt.Sprintf("window of %d", n), sketchOf(DefaultSchema, mixedValues(uint64(40+n), n))})
	}
	return cases
}

// quantileGrid holds the quantiles checked on frozen sketches: the ends, the
// usual ones and ranks falling on every bucket boundary of small sketches.
var quantileGrid = func() []float64 {
	q := []float64{0, 1, math.NaN(), -0.1, 1.1}
	for i := range 1001 {
		q = append(q, float64(i)/1000)
	}
	return append(q, testQuantiles...)
}()

// TestFrozenReads: a sketch loaded from its encoding answers every read as the
// sketch itself does (quantiles bit for bit), and reading never decodes it.
func TestFrozenReads(t *testing.T) {
	for _, tt := range frozenCases() {
		t.Run(tt.name, func(t *testing.T) {
			enc, _ := tt.s.MarshalBinary()
			var f Sketch
			if err := f.Load(bytes.Clone(enc)); err != nil {
				t.Fatal(err)
			}
			if !f.Frozen() {
				t.Fatal("a loaded sketch is not frozen")
			}
			for _, s := range []*Sketch{&f, f.Clone()} {
				if d := diff(s, tt.s, 0); d != "" {
					t.Fatal(d)
				}
				for _, q := range quantileGrid {
					if g, w := s.Quantile(q), tt.s.Quantile(q); !sameFloat(g, w, 0) {
						t.Fatalf("Quantile(%v) = %v, want %v", q, g, w)
					}
				}
				if got, _ := s.AppendBinary([]byte{7}); !bytes.Equal(got[1:], enc) || got[0] != 7 {
					t.Fatalf("AppendBinary = %x, want 07%x", got, enc)
				}
				gp, gn := s.NativeBuckets()
				wp, wn := tt.s.NativeBuckets()
				if fmt.Sprint(gp, gn) != fmt.Sprint(wp, wn) {
					t.Fatalf("NativeBuckets = %v %v, want %v %v", gp, gn, wp, wn)
				}
				upper := []float64{1e-200, 0.001, 0.01, 0.1, 0.5, 1, 2.5, 10, 1e300, math.Inf(1)}
				g, w := make([]uint64, len(upper)), make([]uint64, len(upper))
				s.ClassicCounts(upper, g)
				tt.s.ClassicCounts(upper, w)
				if !slices.Equal(g, w) {
					t.Fatalf("ClassicCounts = %v, want %v", g, w)
				}
				if !s.Frozen() {
					t.Fatal("reading a frozen sketch decoded it")
				}
			}
		})
	}
}

// TestFrozenChanges: every change of a frozen sketch (or merging one into
// another) gives what the same change of the decoded sketch gives.
func TestFrozenChanges(t *testing.T) {
	other := sketchOf(DefaultSchema, mixedValues(50, 500))
	otherEnc, _ := other.MarshalBinary()
	changes := []struct {
		name string
		fn   func(s *Sketch)
	}{
		{"Add", func(s *Sketch) { s.Add(0.25); s.Add(-7) }},
		{"AddN", func(s *Sketch) { s.AddN(1e9, 3) }},
		{"Merge decoded", func(s *Sketch) { s.Merge(other) }},
		{"Merge itself", func(s *Sketch) { s.Merge(s) }},
		{"MergeBinary", func(s *Sketch) {
			if err := s.MergeBinary(otherEnc); err != nil {
				t.Fatal(err)
			}
		}},
		{"Downscale", func(s *Sketch) { s.Downscale(2) }},
		{"Reset", func(s *Sketch) { s.Reset() }},
	}
	for _, tt := range frozenCases() {
		enc, _ := tt.s.MarshalBinary()
		for _, c := range changes {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				want := new(Sketch) // the same encoding decoded
				if err := want.UnmarshalBinary(enc); err != nil {
					t.Fatal(err)
				}
				c.fn(want)
				var f Sketch
				if err := f.Load(enc); err != nil {
					t.Fatal(err)
				}
				c.fn(&f)
				if d := diff(&f, want, 1e-12); d != "" {
					t.Fatal(d)
				}
				checkInvariants(t, &f)
				if g, w := mustMarshal(&f), mustMarshal(want); f.Frozen() && !bytes.Equal(g, w) {
					t.Fatalf("still frozen with the old encoding after a change: %x, want %x", g, w)
				}
				if g, w := f.Quantile(0.9), want.Quantile(0.9); !sameFloat(g, w, 0) {
					t.Fatalf("Quantile(0.9) = %v after the change, want %v", g, w)
				}
			})
		}
		t.Run(tt.name+"/merged into another", func(t *testing.T) {
			var f Sketch
			if err := f.Load(enc); err != nil {
				t.Fatal(err)
			}
			got, want := other.Clone(), other.Clone()
			got.Merge(&f)
			want.Merge(tt.s)
			if d := diff(got, want, 1e-12); d != "" {
				t.Fatal(d)
			}
			if !f.Frozen() {
				t.Fatal("merging a frozen sketch into another decoded it")
			}
			var g Sketch // frozen into frozen
			if err := g.Load(otherEnc); err != nil {
				t.Fatal(err)
			}
			g.Merge(&f)
			if d := diff(&g, want, 1e-12); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// TestFrozenThawKeepsEncoding: changing a frozen sketch never writes into the
// encoding it was loaded from (a query's windows share their buffer).
func TestFrozenThawKeepsEncoding(t *testing.T) {
	enc, _ := sketchOf(DefaultSchema, mixedValues(51, 300)).MarshalBinary()
	kept := bytes.Clone(enc)
	var f Sketch
	if err := f.Load(enc); err != nil {
		t.Fatal(err)
	}
	c := f.Clone()
	f.Add(3)
	f.Merge(sketchOf(4, mixedValues(52, 50)))
	if !bytes.Equal(enc, kept) {
		t.Fatal("the loaded encoding was modified")
	}
	var want Sketch
	if err := want.UnmarshalBinary(kept); err != nil {
		t.Fatal(err)
	}
	if d := diff(c, &want, 0); d != "" {
		t.Fatalf("a clone taken before the change: %s", d)
	}
}

// TestLoadErrors: Load refuses what UnmarshalBinary refuses, with the same
// error, and leaves the sketch as it was.
func TestLoadErrors(t *testing.T) {
	for i, data := range corruptEncodings() {
		s := sketchOf(6, mixedValues(31, 100))
		before := s.Clone()
		err := s.Load(data)
		werr := New(6).UnmarshalBinary(data)
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("%d/%x: Load: %v, UnmarshalBinary: %v", i, data, err, werr)
		case err == nil:
			continue
		case err.Error() != werr.Error() || (!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion)):
			t.Fatalf("%d/%x: error %v, want %v", i, data, err, werr)
		}
		if d := diff(s, before, 0); d != "" || s.Frozen() {
			t.Fatalf("%d/%x: a failed Load changed the sketch: %s", i, data, d)
		}
	}
}

// TestLoadAllocs: loading and reading quantiles allocates nothing.
func TestLoadAllocs(t *testing.T) {
	enc, _ := sketchOf(DefaultSchema, mixedValues(53, 20)).MarshalBinary()
	var f Sketch
	if n := testing.AllocsPerRun(100, func() {
		if err := f.Load(enc); err != nil {
			t.Fatal(err)
		}
		_ = f.Quantile(0.99)
	}); n != 0 {
		t.Fatalf("%v allocations per Load and Quantile", n)
	}
}

func mustMarshal(s *Sketch) []byte {
	b, _ := s.MarshalBinary()
	return b
}
