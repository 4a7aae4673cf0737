package sketch

import (
	"math"
	"math/rand/v2"
	"testing"
)

// scanNonZero finds the lowest and highest non-empty bucket by reading the
// whole array, as nonZero did before it kept them.
func scanNonZero(b *buckets) (lo, hi int32, ok bool) {
	first, last := -1, -1
	for k, c := range b.counts {
		if c != 0 {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	if first < 0 {
		return 0, 0, false
	}
	return b.offset + int32(first), b.offset + int32(last), true
}

// TestBucketBounds drives sketches through every operation that changes
// buckets (Add over wide and narrow ranges, which grows arrays and lowers
// schemas, Merge and MergeBinary at other schemas, UnmarshalBinary, Downscale,
// Reset, Clone) and checks after each that the kept bounds of the non-empty
// buckets are those a scan of the arrays finds.
func TestBucketBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	value := func() float64 {
		v := math.Exp(r.NormFloat64() * float64(1+r.IntN(12)))
		if r.IntN(4) == 0 {
			v = -v
		}
		if r.IntN(20) == 0 {
			v = 0
		}
		return v
	}
	check := func(step string, s *Sketch) {
		t.Helper()
		for _, b := range []*buckets{&s.pos, &s.neg} {
			lo, hi, ok := b.nonZero()
			wlo, whi, wok := scanNonZero(b)
			if ok != wok || ok && (lo != wlo || hi != whi) {
				t.Fatalf("%s: kept bounds %d..%d (%v), scan finds %d..%d (%v)", step, lo, hi, ok, wlo, whi, wok)
			}
		}
	}
	for round := range 300 {
		s := New(int32(r.IntN(9)))
		for range r.IntN(50) {
			s.AddN(value(), uint64(1+r.IntN(3)))
			check("add", s)
		}
		o := New(int32(r.IntN(9) - 4))
		for range r.IntN(50) {
			o.Add(value())
		}
		switch round % 5 {
		case 0:
			s.Merge(o)
			check("merge", s)
		case 1:
			enc, _ := o.AppendBinary(nil)
			if err := s.MergeBinary(enc); err != nil {
				t.Fatal(err)
			}
			check("merge binary", s)
		case 2:
			enc, _ := o.AppendBinary(nil)
			if err := s.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			check("unmarshal", s)
			// Into a sketch without arrays, decoded straight into new ones: the
			// same sketch, which encodes to the same bytes.
			var f Sketch
			if err := f.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			check("unmarshal new", &f)
			if again, _ := f.AppendBinary(nil); string(again) != string(enc) {
				t.Fatalf("a new sketch decoded from %x encodes to %x", enc, again)
			}
			f.Add(value())
			check("add after unmarshal new", &f)
		case 3:
			s.Downscale(s.Schema() - int32(r.IntN(4)))
			check("downscale", s)
		case 4:
			c := s.Clone()
			check("clone", c)
			s.Reset()
			check("reset", s)
		}
		s.Add(value())
		check("add after", s)
	}
}
