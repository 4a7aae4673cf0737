package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// modelBuckets decodes the positive bucket set of an encoding with no zero
// count, one varint at a time with encoding/binary: a model of the decoder's
// bucket loop written apart from it.
func modelBuckets(t *testing.T, data []byte) bucketList {
	t.Helper()
	p := data[3:] // version, schema, zero count 0
	span, n := binary.Uvarint(p)
	p = p[n:]
	first, n := binary.Varint(p)
	p = p[n:]
	var l bucketList
	for i := first; i < first+int64(span); {
		c, n := binary.Uvarint(p)
		p = p[n:]
		if c == 0 {
			run, n := binary.Uvarint(p)
			p = p[n:]
			i += int64(run) + 1
			continue
		}
		l = append(l, [2]int64{i, int64(c)})
		i++
	}
	return l
}

// TestDecodeCountRuns: encodings whose counts mix runs of one-byte counts
// (1 to 127, which the decoder reads eight at a time) with counts of 0x80
// and more, and sparse counts with empty runs between them (a one-byte count
// and run, which it reads as a pair), at every offset from the set's start
// and end,
// decode to the buckets the model reads, with the same total, whether loaded,
// unmarshaled or merged.
func TestDecodeCountRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	small := func() uint64 { return uint64(rng.IntN(127)) + 1 }
	for i := range 2000 {
		// A run of small counts, of 0 to 40 buckets, between other items.
		var counts []uint64
		for range rng.IntN(4) {
			counts = append(counts, uint64(rng.IntN(300))+1)
		}
		for range rng.IntN(41) {
			counts = append(counts, small())
		}
		// Then sparse buckets: counts with empty runs between them, of one
		// bucket and more, with runs and counts of one byte and of two.
		for range rng.IntN(12) {
			gap := 1 + rng.IntN(10)
			if rng.IntN(4) == 0 {
				gap = 1 + rng.IntN(300)
			}
			counts = append(counts, make([]uint64, gap)...)
			c := small()
			if rng.IntN(8) == 0 {
				c = 128 + uint64(rng.IntN(1000))
			}
			counts = append(counts, c)
		}
		switch rng.IntN(4) {
		case 0:
			counts = append(counts, 128+uint64(rng.IntN(1000)))
		case 1:
			counts = append(counts, 0, 0, small()) // empty buckets, then a count
		case 2:
			counts = append(counts, 127, 1<<40)
		}
		if len(counts) == 0 || counts[0] == 0 {
			counts = append([]uint64{1}, counts...)
		}
		s := New(6)
		for k, c := range counts {
			if c > 0 {
				s.AddN(upperBound(int32(k+100), 6), c)
			}
		}
		data := refEncoding(s)
		want := modelBuckets(t, data)
		var total uint64
		for _, b := range want {
			total += uint64(b[1])
		}
		var frozen Sketch
		if err := frozen.Load(data); err != nil {
			t.Fatalf("case %d: Load %x: %v", i, data, err)
		}
		decoded := New(0)
		if err := decoded.UnmarshalBinary(data); err != nil {
			t.Fatalf("case %d: UnmarshalBinary %x: %v", i, data, err)
		}
		merged := New(6)
		if err := merged.MergeBinary(data); err != nil {
			t.Fatalf("case %d: MergeBinary %x: %v", i, data, err)
		}
		for _, got := range []*Sketch{&frozen, decoded, merged} {
			if got.Count() != total {
				t.Fatalf("case %d: count %d, want %d", i, got.Count(), total)
			}
			if g := listBuckets(got.ForEachBucket); fmt.Sprint(g) != fmt.Sprint(want) {
				t.Fatalf("case %d: buckets\n%v\nwant\n%v", i, g, want)
			}
		}
		// Merged a second time, into buckets that hold counts: each doubles.
		if err := merged.MergeBinary(data); err != nil {
			t.Fatalf("case %d: second MergeBinary: %v", i, err)
		}
		twice := slices.Clone(want)
		for j := range twice {
			twice[j][1] *= 2
		}
		if g := listBuckets(merged.ForEachBucket); fmt.Sprint(g) != fmt.Sprint(twice) {
			t.Fatalf("case %d: merged twice: buckets\n%v\nwant\n%v", i, g, twice)
		}
	}
}

// TestDecodeCountsOverflow: counts whose total overflows are refused wherever
// the overflow happens, inside eight one-byte counts read at once or not.
func TestDecodeCountsOverflow(t *testing.T) {
	f64 := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	for _, tt := range []struct {
		name  string
		first uint64 // the first bucket's count
		small int    // one-byte counts of 1 after it
		ok    bool
	}{
		{"eight ones fit", math.MaxUint64 - 8, 8, true},
		{"the eighth one overflows", math.MaxUint64 - 7, 8, false},
		{"the first of eight overflows", math.MaxUint64, 8, false},
		{"past eight", math.MaxUint64 - 9, 10, false},
		{"seven ones fit", math.MaxUint64 - 7, 7, true},
		{"the seventh one overflows", math.MaxUint64 - 6, 7, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Join([][]byte{{1, 6, 0}, binary.AppendUvarint(nil, uint64(tt.small+1)), binary.AppendVarint(nil, 0),
				binary.AppendUvarint(nil, tt.first), bytes.Repeat([]byte{1}, tt.small), {0}}, nil) // no negative buckets
			hi := upperBound(int32(tt.small), 6)
			data = append(data, bytes.Join([][]byte{f64(1), f64(1), f64(hi)}, nil)...) // sum, min, max
			for _, load := range []func([]byte) error{new(Sketch).Load, New(6).UnmarshalBinary, New(6).MergeBinary} {
				err := load(data)
				switch {
				case tt.ok && err != nil:
					t.Fatalf("%x: %v", data, err)
				case !tt.ok && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "counts overflow")):
					t.Fatalf("%x: error %v, want counts overflow", data, err)
				}
			}
		})
	}
}
