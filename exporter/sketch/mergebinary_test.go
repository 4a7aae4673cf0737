package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// mergeDecoded is the path MergeBinary replaces: UnmarshalBinary into a new
// sketch, then Merge.
func mergeDecoded(s *Sketch, data []byte) error {
	var o Sketch
	if err := o.UnmarshalBinary(data); err != nil {
		return err
	}
	s.Merge(&o)
	return nil
}

// sameState fails t unless a and b are the same sketch down to their bucket
// arrays: the same layout, not only the same buckets.
func sameState(t testing.TB, a, b *Sketch) {
	t.Helper()
	if d := diff(a, b, 0); d != "" {
		t.Fatal(d)
	}
	if a.initSchema != b.initSchema || a.pos.offset != b.pos.offset || a.neg.offset != b.neg.offset ||
		!slices.Equal(a.pos.counts, b.pos.counts) || !slices.Equal(a.neg.counts, b.neg.counts) {
		t.Fatalf("same buckets, different arrays or initial schema:\n%+v\n%+v", a, b)
	}
}

// TestMergeBinary merges each part of a set of values, encoded, into one
// sketch, and checks the result against Merge of the decoded parts and against
// the sketch of the union built directly (merging is exact).
func TestMergeBinary(t *testing.T) {
	values := mixedValues(30, 50000)
	parts := func(n int) [][]float64 { return split(uint64(n), values, n) }
	// 1e-3..1e3 is 5100 buckets at schema 8: merged, they lower it to 7.
	wide := [][]float64{{1e-3}, {1e3}, {2e-3}, {5e2}}
	tests := []struct {
		name    string
		into    int32       // schema of the sketch merged into
		schemas []int32     // one encoded part per schema
		parts   [][]float64 // the values of each part
		want    int32
	}{
		{"same schema", 6, []int32{6, 6, 6, 6, 6, 6}, parts(6), 6},
		{"lower schema encoded", 6, []int32{6, 4, 6}, parts(3), 4},
		{"higher schema encoded", 4, []int32{8, 6}, parts(2), 4},
		{"mixed schemas", 8, []int32{8, 6, 8, 3, 6}, parts(5), 3},
		{"down to -4", 8, []int32{8, -4}, parts(2), -4},
		{"into an empty sketch", 6, []int32{6}, parts(1), 6},
		{"span limit lowers the schema", 8, []int32{8, 8, 8, 8}, wide, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := tt.parts
			got, ref := New(tt.into), New(tt.into)
			for i, schema := range tt.schemas {
				data, _ := sketchOf(schema, parts[i]).MarshalBinary()
				before := bytes.Clone(data)
				if err := got.MergeBinary(data); err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				if !bytes.Equal(data, before) {
					t.Fatalf("MergeBinary modified its input")
				}
				if err := mergeDecoded(ref, data); err != nil {
					t.Fatal(err)
				}
				sameState(t, got, ref)
				checkInvariants(t, got)
			}
			if got.Schema() != tt.want {
				t.Fatalf("schema %d, want %d", got.Schema(), tt.want)
			}
			if d := diff(got, sketchOf(tt.want, slices.Concat(tt.parts...)), 1e-12); d != "" {
				t.Fatalf("differs from the sketch of the union: %s", d)
			}
		})
	}
}

// TestMergeBinaryEncodings merges every encoding case into every other, and
// into itself, both ways.
func TestMergeBinaryEncodings(t *testing.T) {
	cases := encodingCases()
	for _, into := range cases {
		for _, enc := range cases {
			t.Run(into.name+"/"+enc.name, func(t *testing.T) {
				data, _ := enc.s.MarshalBinary()
				got, ref := into.s.Clone(), into.s.Clone()
				if err := got.MergeBinary(data); err != nil {
					t.Fatal(err)
				}
				if err := mergeDecoded(ref, data); err != nil {
					t.Fatal(err)
				}
				sameState(t, got, ref)
				checkInvariants(t, got)
				if got.Count() != into.s.Count()+enc.s.Count() {
					t.Fatalf("count %d, want %d + %d", got.Count(), into.s.Count(), enc.s.Count())
				}
			})
		}
	}
}

// TestMergeBinaryErrors: every corrupt input UnmarshalBinary refuses,
// MergeBinary refuses with the same error, leaving the sketch as it was.
func TestMergeBinaryErrors(t *testing.T) {
	corrupt := corruptEncodings()
	for i, data := range corrupt {
		t.Run(fmt.Sprintf("%d/%x", i, data), func(t *testing.T) {
			s := sketchOf(6, mixedValues(31, 1000))
			before := s.Clone()
			err := s.MergeBinary(data)
			werr := New(6).UnmarshalBinary(data)
			switch {
			case werr == nil && err != nil:
				t.Fatalf("UnmarshalBinary accepts what MergeBinary refuses: %v", err)
			case werr == nil:
				return // a mutation that is still a valid encoding
			case err == nil || err.Error() != werr.Error():
				t.Fatalf("error %v, want %v", err, werr)
			case !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion):
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			if d := diff(s, before, 0); d != "" {
				t.Fatalf("a failed MergeBinary changed the sketch: %s", d)
			}
		})
	}
}

// TestMergeBinaryAllocs: merging into a sketch whose arrays cover the buckets
// allocates nothing.
func TestMergeBinaryAllocs(t *testing.T) {
	data, _ := sketchOf(DefaultSchema, logNormal(32, 1000, 1)).MarshalBinary()
	s := New(DefaultSchema)
	if err := s.MergeBinary(data); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.MergeBinary(data) }); n != 0 {
		t.Fatalf("%v allocations per MergeBinary, want 0", n)
	}
}

// FuzzMergeBinary checks that MergeBinary of any input into any sketch gives
// exactly what UnmarshalBinary and Merge give, or the same error, leaving the
// sketch unchanged. The sketch merged into is decoded from into if that is a
// valid encoding, else built from into's bytes read as float64 values.
func FuzzMergeBinary(f *testing.F) {
	cases := encodingCases()
	for i, c := range cases {
		data, _ := c.s.MarshalBinary()
		into, _ := cases[(i+3)%len(cases)].s.MarshalBinary()
		f.Add(data, into, int8(DefaultSchema))
		f.Add(data, []byte("\x00\x00\x00\x00\x00\x00\xf0\x3f"), int8(8))
		if len(data) > 3 {
			f.Add(data[:len(data)-3], into, int8(0))
		}
	}
	f.Fuzz(func(t *testing.T, data, into []byte, schema int8) {
		base := &Sketch{}
		if base.UnmarshalBinary(into) != nil {
			base = New(min(max(int32(schema), minSchema), maxSchema))
			for b := into; len(b) >= 8; b = b[8:] {
				base.Add(math.Float64frombits(binary.LittleEndian.Uint64(b)))
			}
		}
		got, ref := base.Clone(), base.Clone()
		err := got.MergeBinary(data)
		werr := mergeDecoded(ref, data)
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("MergeBinary: %v, UnmarshalBinary: %v", err, werr)
		case err != nil:
			if err.Error() != werr.Error() || (!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion)) {
				t.Fatalf("error %v, want %v", err, werr)
			}
			sameState(t, got, base.Clone())
			return
		}
		sameState(t, got, ref)
		checkInvariants(t, got)
	})
}

// corruptEncodings are inputs UnmarshalBinary must refuse (and some mutations of
// a valid encoding, which may still be valid).
func corruptEncodings() [][]byte {
	valid, _ := sketchOf(0, []float64{1, 1, 4, 0, -0.5}).MarshalBinary()
	f64 := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	corrupt := [][]byte{
		nil,
		{1},
		{2, 6, 0, 0, 0},
		{1, 9, 0, 0, 0},
		append(bytes.Clone(valid), 0),
		{1, 6, 0, 0},
		{1, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0},
		{1, 6, 0, 0x80, 0x20, 0, 1},
		bytes.Join([][]byte{{1, 0, 0, 2, 0, 0, 0, 1, 0}, f64(2), f64(2), f64(2)}, nil),
		bytes.Join([][]byte{{1, 0, 0, 2, 0, 1, 0, 0, 0}, f64(1), f64(1), f64(1)}, nil),
		bytes.Join([][]byte{{1, 0, 0, 2, 0}, binary.AppendUvarint(nil, math.MaxUint64), binary.AppendUvarint(nil, 1), {0}}, nil),
		bytes.Join([][]byte{{1, 0, 0, 1, 4, 1, 0}, f64(3), f64(3.5), f64(3)}, nil), // min above max
		bytes.Join([][]byte{{1, 0, 0, 1, 4, 2, 0}, f64(3), f64(1.5), f64(3)}, nil), // min outside its bucket
		bytes.Join([][]byte{{1, 0, 0, 1, 4, 1, 0}, f64(3), f64(3), f64(math.Inf(1))}, nil),
	}
	for n := range len(valid) {
		corrupt = append(corrupt, valid[:n])
	}
	for i := range len(valid) {
		for _, x := range []byte{0, 0x7f, 0x80, 0xff} {
			b := bytes.Clone(valid)
			b[i] = x
			corrupt = append(corrupt, b)
		}
	}
	return corrupt
}

// TestMergeBinaryTakesBack: an encoding of the sketch's own schema whose
// buckets its arrays cover is added as it is read, so one that turns out
// corrupt part way (truncated anywhere, any byte changed, a byte appended)
// must have the counts added before the error taken back: the sketch is left
// as it was, down to its arrays. One that is still valid merges as
// UnmarshalBinary and Merge do.
func TestMergeBinaryTakesBack(t *testing.T) {
	into := sketchOf(6, mixedValues(40, 5000)) // both signs, wide arrays
	valid, _ := sketchOf(6, mixedValues(41, 300)).MarshalBinary()
	var inputs [][]byte
	for n := range len(valid) {
		inputs = append(inputs, valid[:n])
	}
	for i := range valid {
		for _, b := range []byte{0, 0x80, valid[i] + 1} {
			c := bytes.Clone(valid)
			c[i] = b
			inputs = append(inputs, c)
		}
	}
	inputs = append(inputs, append(bytes.Clone(valid), 0))
	refused := 0
	for _, data := range inputs {
		got, ref := into.Clone(), into.Clone()
		err := got.MergeBinary(data)
		werr := mergeDecoded(ref, data)
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("%x: MergeBinary: %v, UnmarshalBinary: %v", data, err, werr)
		case err != nil:
			if err.Error() != werr.Error() {
				t.Fatalf("%x: error %v, want %v", data, err, werr)
			}
			sameState(t, got, into.Clone())
			refused++
		default:
			sameState(t, got, ref)
		}
	}
	if refused < len(inputs)/2 {
		t.Fatalf("only %d of %d inputs refused: the test no longer reaches the errors", refused, len(inputs))
	}
}
