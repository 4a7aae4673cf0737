package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodingCases are sketches for the round-trip test and the fuzz seed corpus.
func encodingCases() []struct {
	name string
	s    *Sketch
} {
	withN := func(schema int32, v float64, n uint64) *Sketch { s := New(schema); s.AddN(v, n); return s }
	downscaled := sketchOf(8, mixedValues(20, 2000))
	downscaled.Downscale(2)
	return []struct {
		name string
		s    *Sketch
	}{
		{"empty", New(DefaultSchema)},
		{"empty schema -4", New(-4)},
		{"empty schema 8", New(8)},
		{"one value", sketchOf(6, []float64{0.042})},
		{"zero bucket only", sketchOf(6, []float64{0, 0, -1e-40})},
		{"negatives only", sketchOf(6, []float64{-1, -2, -3, -1000})},
		{"gaps", sketchOf(6, []float64{1, 1.02, 1.5, 100, 100, 1e6})},
		{"mixed latencies", sketchOf(6, mixedValues(21, 10000))},
		{"huge counts", withN(0, 3, math.MaxUint64/2)},
		{"schema -4", sketchOf(-4, mixedValues(22, 1000))},
		{"downscaled", downscaled},
		{"whole float range", sketchOf(8, []float64{math.Nextafter(ZeroThreshold, 1), math.MaxFloat64, -math.MaxFloat64})},
		{"sum overflowed", sketchOf(6, []float64{math.MaxFloat64, math.MaxFloat64})},
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	reused := sketchOf(8, mixedValues(23, 10000)) // decoded into, case after case
	for _, tt := range encodingCases() {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.s.AppendBinary([]byte("prefix"))
			if err != nil || !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendBinary: %q, %v", b, err)
			}
			got := New(3)
			got.Add(77) // overwritten by UnmarshalBinary
			if err := got.UnmarshalBinary(b[len("prefix"):]); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if d := diff(got, tt.s, 0); d != "" {
				t.Fatal(d)
			}
			checkInvariants(t, got)
			again, _ := got.MarshalBinary()
			if !bytes.Equal(again, b[len("prefix"):]) {
				t.Fatalf("re-encoding differs:\n%x\n%x", again, b[len("prefix"):])
			}
			if err := reused.UnmarshalBinary(again); err != nil {
				t.Fatal(err)
			}
			if d := diff(reused, tt.s, 0); d != "" {
				t.Fatalf("decoded into a reused sketch: %s", d)
			}
			reused.Add(1e-3) // the reused arrays still work
			checkInvariants(t, reused)
			// A zero Sketch, as a query decodes a point into.
			var fresh Sketch
			if err := fresh.UnmarshalBinary(again); err != nil {
				t.Fatal(err)
			}
			if d := diff(&fresh, tt.s, 0); d != "" {
				t.Fatalf("decoded into a new sketch: %s", d)
			}
			checkInvariants(t, &fresh)
			fresh.Add(1e-3)
			fresh.Add(-1e9)
			checkInvariants(t, &fresh)
		})
	}
}

// TestEncodingFormat pins the documented format on a small sketch.
func TestEncodingFormat(t *testing.T) {
	f64 := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	tests := []struct {
		name string
		s    *Sketch
		want []byte
	}{
		{"empty", New(6), []byte{1, 6, 0, 0, 0}},
		{"schema -4", New(-4), []byte{1, 0xfc, 0, 0, 0}},
		{
			// Schema 0: 1 is bucket 0, 4 bucket 2, -0.5 negative bucket -1.
			"small",
			sketchOf(0, []float64{1, 1, 4, 0, -0.5}),
			bytes.Join([][]byte{
				{1, 0},       // version, schema
				{1},          // zero count
				{3, 0},       // positive: span 3, first index 0 (zigzag 0)
				{2, 0, 0, 1}, // counts 2, one empty bucket (run 0), 1
				{1, 1, 1},    // negative: span 1, first index -1 (zigzag 1), count 1
				f64(5.5),     // sum
				f64(-0.5),    // min
				f64(4),       // max
			}, nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := tt.s.MarshalBinary()
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("encoding\n%x\nwant\n%x", got, tt.want)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	valid, _ := sketchOf(0, []float64{1, 1, 4, 0, -0.5}).MarshalBinary()
	f64 := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	// sketch builds a one-bucket positive encoding at schema 0 with the given floats.
	sketch := func(index int64, count uint64, sum, min, max float64) []byte {
		b := []byte{1, 0, 0, 1}
		b = binary.AppendVarint(b, index)
		b = binary.AppendUvarint(b, count)
		b = append(b, 0) // no negative buckets
		return bytes.Join([][]byte{b, f64(sum), f64(min), f64(max)}, nil)
	}
	tests := []struct {
		name string
		data []byte
		want error
		msg  string // if set, the error's text must contain it
	}{
		{"nil", nil, ErrCorrupt, "need at least 2"},
		{"version only", []byte{1}, ErrCorrupt, ""},
		{"version 2", []byte{2, 6, 0, 0, 0}, ErrVersion, ""},
		{"version 0", []byte{0, 6, 0, 0, 0}, ErrVersion, ""},
		{"schema 9", []byte{1, 9, 0, 0, 0}, ErrCorrupt, "schema 9 outside"},
		{"schema -5", []byte{1, 0xfb, 0, 0, 0}, ErrCorrupt, ""},
		{"trailing byte", append(bytes.Clone(valid), 0), ErrCorrupt, "1 trailing bytes"},
		{"missing negative set", []byte{1, 6, 0, 0}, ErrCorrupt, "negative buckets: span: truncated"},
		{"uvarint overflow", []byte{1, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0}, ErrCorrupt, ""},
		// Otherwise valid: buckets 0 and 4096 of schema 6 hold 1 and 2^64.
		{"span over the limit", bytes.Join([][]byte{{1, 6, 0}, binary.AppendUvarint(nil, maxSpan+1), {0, 1, 0},
			binary.AppendUvarint(nil, maxSpan-2), {1, 0}, f64(1 + 0x1p64), f64(1), f64(0x1p64)}, nil), ErrCorrupt,
			"span 4097 over 4096"},
		{"span at the limit but truncated", []byte{1, 6, 0, 0x80, 0x20, 0, 1}, ErrCorrupt, ""},
		{"index below range", sketch(-128, 1, 1, 1, 1), ErrCorrupt, "-128..-128 outside -127..1024"},
		{"index above range", sketch(1025, 1, 1, 1, 1), ErrCorrupt, "outside -127..1024"},
		{"index far out of int32", sketch(1<<40, 1, 1, 1, 1), ErrCorrupt, "outside -127..1024"},
		// Otherwise valid: bucket 1 of schema 0 is (1, 2], bucket 0 is (0.5, 1].
		{"empty run first", bytes.Join([][]byte{{1, 0, 0, 2, 0, 0, 0, 1, 0}, f64(2), f64(2), f64(2)}, nil), ErrCorrupt,
			"positive buckets: empty run of 1 at bucket 0 of 2"},
		{"empty run to the end", bytes.Join([][]byte{{1, 0, 0, 2, 0, 1, 0, 0, 0}, f64(1), f64(1), f64(1)}, nil), ErrCorrupt,
			"positive buckets: empty run of 1 at bucket 1 of 2"},
		{"empty run past the end", bytes.Join([][]byte{{1, 0, 0, 3, 0, 1, 0, 5, 1, 0}, f64(1), f64(1), f64(1)}, nil), ErrCorrupt,
			"positive buckets: empty run of 6 at bucket 1 of 3"},
		{"count overflow in a set", bytes.Join([][]byte{{1, 0, 0, 2, 0},
			binary.AppendUvarint(nil, math.MaxUint64), binary.AppendUvarint(nil, 1), {0}}, nil), ErrCorrupt,
			"positive buckets: counts overflow"},
		{"count overflow with zero bucket", bytes.Join([][]byte{{1, 0}, binary.AppendUvarint(nil, math.MaxUint64),
			{1, 0, 1, 0}}, nil), ErrCorrupt, "total count overflows"},
		{"min above max", sketch(2, 1, 3, 3.5, 3), ErrCorrupt, "min 3.5, max 3"},
		{"min NaN", sketch(2, 1, 3, math.NaN(), 3), ErrCorrupt, ""},
		{"max +Inf", sketch(2, 1, 3, 3, math.Inf(1)), ErrCorrupt, ""},
		{"min outside the lowest bucket", sketch(2, 2, 3, 1.5, 3), ErrCorrupt, "outside the lowest or highest"},
		{"max outside the highest bucket", sketch(2, 2, 3, 3, 4.5), ErrCorrupt, "outside the lowest or highest"},
		{"min in the zero bucket with no zero count", sketch(2, 2, 3, 0, 3), ErrCorrupt, "outside the lowest or highest"},
	}
	for n := range len(valid) {
		tests = append(tests, struct {
			name string
			data []byte
			want error
			msg  string
		}{fmt.Sprintf("truncated to %d bytes", n), valid[:n], ErrCorrupt, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sketchOf(6, []float64{1, 2, 3})
			before, _ := s.MarshalBinary()
			err := s.UnmarshalBinary(tt.data)
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.msg) {
				t.Fatalf("error %v, want %v: %s", err, tt.want, tt.msg)
			}
			if after, _ := s.MarshalBinary(); !bytes.Equal(before, after) {
				t.Fatalf("a failed UnmarshalBinary changed the sketch")
			}
			// A new sketch stays empty.
			fresh := New(6)
			if err := fresh.UnmarshalBinary(tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("new sketch: error %v, want %v", err, tt.want)
			}
			if d := diff(fresh, New(6), 0); d != "" {
				t.Fatalf("a failed UnmarshalBinary changed a new sketch: %s", d)
			}
		})
	}
	// The valid encodings the cases above corrupt must decode.
	top := math.Exp2(4094.5 / 64) // inside bucket 4095 of schema 6
	spanAtLimit := bytes.Join([][]byte{{1, 6, 0}, binary.AppendUvarint(nil, maxSpan), {0, 1, 0},
		binary.AppendUvarint(nil, maxSpan-3), {1, 0}, f64(1 + top), f64(1), f64(top)}, nil)
	for _, b := range [][]byte{valid, spanAtLimit, sketch(2, 2, 6, 3, 3.5), sketch(-127, 1, 3e-39, 3e-39, 3e-39), sketch(1024, 1, 1e308, 1e308, 1e308)} {
		if err := New(0).UnmarshalBinary(b); err != nil {
			t.Errorf("valid %x: %v", b, err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, tt := range encodingCases() {
		b, _ := tt.s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(DefaultSchema)
		var frozen Sketch
		lerr := frozen.Load(data)
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			if lerr == nil || lerr.Error() != err.Error() {
				t.Fatalf("Load: %v, UnmarshalBinary: %v", lerr, err)
			}
			return
		}
		if lerr != nil {
			t.Fatalf("Load refuses what UnmarshalBinary decodes: %v", lerr)
		}
		for _, q := range testQuantiles {
			if g, w := frozen.Quantile(q), s.Quantile(q); !sameFloat(g, w, 0) {
				t.Fatalf("frozen Quantile(%v) = %v, decoded %v", q, g, w)
			}
		}
		checkInvariants(t, s)
		enc, _ := s.MarshalBinary()
		again := New(0)
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", enc, err)
		}
		if d := diff(again, s, 0); d != "" {
			t.Fatalf("re-encoding decodes to a different sketch: %s", d)
		}
		// Whatever decodes must be safe to use.
		for _, q := range testQuantiles {
			if v := s.Quantile(q); s.Count() > 0 && !(v >= s.Min() && v <= s.Max()) {
				t.Fatalf("Quantile(%v) = %v outside [%v, %v]", q, v, s.Min(), s.Max())
			}
		}
		m := s.Clone()
		m.Merge(s)
		m.Add(0.5)
		m.Add(-3)
		m.Downscale(max(m.Schema()-3, minSchema))
		checkInvariants(t, m)
		if m.Count() != 2*s.Count()+2 {
			t.Fatalf("merged count %d, want %d", m.Count(), 2*s.Count()+2)
		}
	})
}

// refEncoding is the documented format built from the public accessors, one item
// at a time with encoding/binary: a model of AppendBinary written apart from it.
func refEncoding(s *Sketch) []byte {
	b := []byte{1, byte(int8(s.Schema()))}
	b = binary.AppendUvarint(b, s.ZeroCount())
	for _, each := range []func(func(int32, uint64)){s.ForEachBucket, s.ForEachNegativeBucket} {
		var idx []int32
		var cnt []uint64
		each(func(i int32, c uint64) { idx, cnt = append(idx, i), append(cnt, c) })
		if len(idx) == 0 {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(idx[len(idx)-1]-idx[0]+1))
		b = binary.AppendVarint(b, int64(idx[0]))
		for j := range idx {
			if j > 0 && idx[j] > idx[j-1]+1 {
				b = append(b, 0)
				b = binary.AppendUvarint(b, uint64(idx[j]-idx[j-1]-2))
			}
			b = binary.AppendUvarint(b, cnt[j])
		}
	}
	if s.Count() > 0 {
		for _, f := range []float64{s.Sum(), s.Min(), s.Max()} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
	}
	return b
}

// TestEncodingAgainstModel compares AppendBinary with refEncoding on sketches
// whose counts take one to ten bytes and whose empty runs take two bytes and more,
// appended to buffers with no, little and plenty of spare capacity.
func TestEncodingAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var cases []*Sketch
	for _, tt := range encodingCases() {
		cases = append(cases, tt.s)
	}
	for i := 0; i < 200; i++ {
		s := New(int32(rng.IntN(13) - 4))
		for j := rng.IntN(300); j > 0; j-- {
			v := math.Exp(rng.NormFloat64() * 3)
			if rng.IntN(10) == 0 {
				v = -v
			}
			n := uint64(1)
			switch rng.IntN(4) {
			case 0:
				n = uint64(rng.IntN(200)) + 1 // 127, 128 and around
			case 1:
				n = rng.Uint64() >> rng.IntN(64)
			}
			s.AddN(v, max(n, 1))
		}
		cases = append(cases, s)
	}
	gaps := New(6) // empty runs of 1, 127, 128, 129 and 200 buckets
	for _, i := range []int32{0, 2, 130, 259, 389, 590} {
		gaps.Add(upperBound(i, 6))
	}
	cases = append(cases, gaps)
	runs := New(6) // empty runs of every length from 1 to 26 buckets: skipped 8 at a time, and not
	i := int32(-40)
	for r := int32(1); r <= 26; r++ {
		runs.Add(upperBound(i, 6))
		i += r + 1
	}
	runs.Add(upperBound(i, 6))
	cases = append(cases, runs)
	for i, s := range cases {
		want := refEncoding(s)
		for _, spare := range []int{0, 1, len(want) - 1, len(want), 4096} {
			dst := append(make([]byte, 0, 3+spare), "pre"...)
			got, _ := s.AppendBinary(dst)
			if !bytes.Equal(got[3:], want) || string(got[:3]) != "pre" {
				t.Fatalf("case %d, spare %d: encoding\n%x\nwant\n%x", i, spare, got, want)
			}
		}
	}
}
