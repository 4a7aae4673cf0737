package combine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

func testAgg(withSketch bool, vals ...float64) *aggregate.Aggregate {
	a := aggregate.New(6, withSketch)
	a.Count, a.ClientErrors, a.ServerErrors = uint64(len(vals))+2, 1, 1
	for _, v := range vals {
		a.Values++
		a.Sum += v
		a.Min, a.Max = min(a.Min, v), max(a.Max, v)
		if a.Sketch != nil {
			a.Sketch.Add(v)
		}
	}
	return a
}

func TestCodecRoundTrip(t *testing.T) {
	group := string(store.AppendGroup(nil, []byte("/api\x00users"), []byte(""), []byte("eu")))
	// reused decodes every record after the one before, as stage 2 does: it must
	// decode each as a new Record does.
	var reused Record
	f := func(name string, source int32, d Delta) {
		t.Helper()
		key := AppendDeltaKey([]byte("prefix"), "endpoint_1m", d.Group)[len("prefix"):]
		value, err := AppendDeltaValue([]byte("x"), source, &d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var r Record
		if err := DecodeRecord(key, value[1:], &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for range 2 {
			if err := DecodeRecord(key, value[1:], &reused); err != nil {
				t.Fatalf("%s, reused record: %v", name, err)
			}
			if again, err := AppendDeltaValue(nil, reused.Source, &reused.Delta); err != nil || !bytes.Equal(again, value[1:]) {
				t.Errorf("%s: decoded into a reused record, it encodes differently (%v)", name, err)
			}
		}
		if r.Watermark || r.Source != source || r.AggName != "endpoint_1m" || r.Delta.Group != d.Group || r.Delta.Agg != 0 {
			t.Errorf("%s: decoded %+v", name, r)
		}
		if len(r.Delta.Parts) != len(d.Parts) {
			t.Fatalf("%s: %d parts, want %d", name, len(r.Delta.Parts), len(d.Parts))
		}
		for i := range d.Parts {
			got, want := r.Delta.Parts[i], d.Parts[i]
			if got.Start != want.Start || got.End != want.End || got.From != want.From || got.Last != want.Last || got.Late != want.Late ||
				!bytes.Equal(encodeAgg(t, got.Agg), encodeAgg(t, want.Agg)) {
				t.Errorf("%s: part %d = %+v, want %+v", name, i, got, want)
			}
		}
	}
	min64 := int64(math.MinInt64)
	f("no parts", 0, Delta{Group: group})
	f("empty group", math.MaxInt32, Delta{Parts: []engine.Part{{Start: 0, End: 60000, From: min64, Last: 59999, Agg: testAgg(false, 1)}}})
	f("every kind", math.MinInt32, Delta{Group: group, Parts: []engine.Part{
		{Start: -60000, End: 0, From: min64, Last: -1, Agg: testAgg(true, 0.5, 0.25)},                                // tumbling
		{Start: 120000, End: 180000, From: 0, Last: 120000, Agg: testAgg(false)},                                     // a pane
		{Start: math.MaxInt64 - 2, End: math.MaxInt64, From: min64, Last: math.MaxInt64 - 1, Agg: testAgg(true, -3)}, // a session
		{Start: min64, End: min64 + 1, From: min64, Last: min64, Agg: testAgg(true, 1e300, 1e-300)},                  // sliding
		{From: min64, Last: 77, Late: true, Agg: testAgg(true, 2)},
	}})
	max64 := int64(math.MaxInt64)
	f("int64 edges", -1, Delta{Group: group, Parts: []engine.Part{
		{Start: min64, End: max64, From: min64, Last: max64 - 1, Agg: testAgg(false, 1)},         // the widest part
		{Start: max64 - 1, End: max64, From: min64 + 1, Last: max64 - 1, Agg: testAgg(false)},    // From furthest back without the flag
		{Start: min64, End: min64 + 1, From: min64, Last: min64, Agg: testAgg(false)},            // at the bottom
		{Start: 0, End: 1, From: 0, Last: 0, Agg: testAgg(false)},                                // From at Start
		{From: min64, Last: min64, Late: true, Agg: testAgg(false)},                              // late, at both ends
		{From: min64, Last: max64, Late: true, Agg: &aggregate.Aggregate{Count: math.MaxUint64}}, // Values 0 with Min and Max 0
	}})
	f("values and sketches", 7, Delta{Group: group, Parts: []engine.Part{
		{Start: 0, End: 10, From: min64, Last: 0, Agg: aggregate.New(6, false)},             // nothing at all
		{Start: 0, End: 10, From: min64, Last: 0, Agg: aggregate.New(6, true)},              // an empty sketch
		{Start: 0, End: 10, From: min64, Last: 0, Agg: testAgg(true, 0)},                    // one value, in the zero bucket
		{Start: 0, End: 10, From: min64, Last: 0, Agg: testAgg(true, math.Copysign(0, -1))}, // -0: Sum is +0
		{Start: 0, End: 10, From: min64, Last: 0, Agg: testAgg(true, -2.5)},                 // one negative value
		{Start: 0, End: 10, From: min64, Last: 0, Agg: testAgg(true, -1e-300, 3, -7, 0, 3, 3, 1e10)},
		{Start: 0, End: 10, From: min64, Last: 0, Agg: testAgg(false, math.Inf(1), 2)}, // the sketch would drop +Inf
		{Start: 0, End: 10, From: min64, Last: 0, Agg: withInf(testAgg(true, 1, 2))},   // and did: its count is below Values
		{Start: 0, End: 10, From: min64, Last: 0, Agg: merged()},                       // a downscaled sketch of many buckets
		{Start: 0, End: 10, From: min64, Last: 0, Agg: &aggregate.Aggregate{Count: 1, Sum: 1, Min: math.Inf(1), Max: math.Inf(-1)}},
	}})

	f("every kind, after the others", 3, Delta{Group: group, Parts: []engine.Part{
		{Start: 0, End: 10, From: min64, Last: 0, Agg: testAgg(false, 1)}, // where a sketch was
		{Start: -60000, End: 0, From: min64, Last: -1, Agg: testAgg(true, 0.5, 0.25)},
		{From: min64, Last: 77, Late: true, Agg: testAgg(true, 2)}, // one value where many were
	}})

	key, value := AppendWatermark(nil, []byte{9}, 5, -42)
	var r Record
	if err := DecodeRecord(key, value[1:], &r); err != nil || !r.Watermark || r.Source != 5 || r.StreamTime != -42 {
		t.Errorf("watermark: %+v, %v", r, err)
	}
	for _, st := range []int64{math.MinInt64, math.MaxInt64, 0} {
		key, value := AppendWatermark(nil, nil, math.MaxInt32, st)
		if err := DecodeRecord(key, value, &r); err != nil || r.StreamTime != st || r.Source != math.MaxInt32 {
			t.Errorf("watermark at %d: %+v, %v", st, r, err)
		}
	}
}

// withInf adds +Inf to a's values as Aggregate.Add would: the sketch skips it.
func withInf(a *aggregate.Aggregate) *aggregate.Aggregate {
	a.Count++
	a.Values++
	a.Sum += math.Inf(1)
	a.Max = math.Inf(1)
	a.Sketch.Add(math.Inf(1))
	return a
}

// merged is an aggregate whose sketch was merged from one at a lower schema, with
// values over a wide range and some counts above 1.
func merged() *aggregate.Aggregate {
	a := testAgg(true, 1e-9, 1e-9, 1e-9, 5, 5, 1e9, -3, -3e5)
	b := aggregate.New(2, true)
	b.Sketch.Add(42)
	b.Count, b.Values, b.Sum, b.Min, b.Max = 1, 1, 42, 42, 42
	a.Merge(b)
	return a
}

func TestDecodeRecordRejects(t *testing.T) {
	good := Delta{Group: "g", Parts: []engine.Part{{Start: 0, End: 10, From: math.MinInt64, Last: 5, Agg: testAgg(true, 1, 2)}}}
	key := AppendDeltaKey(nil, "a", good.Group)
	value, _ := AppendDeltaValue(nil, 1, &good)
	wkey, wvalue := AppendWatermark(nil, nil, 1, 1)
	bad := func(p engine.Part) []byte {
		v, _ := AppendDeltaValue(nil, 1, &Delta{Parts: []engine.Part{p}})
		return v
	}
	f := func(name string, key, value []byte) {
		t.Helper()
		var r Record
		if err := DecodeRecord(key, value, &r); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", name, err)
		}
	}
	f("empty key", nil, value)
	f("empty value", key, nil)
	f("version 1", key, append([]byte{1}, value[1:]...))
	f("unknown kind", append([]byte{'X'}, key[1:]...), value)
	f("name past the key", []byte{'D', 5, 'a'}, value)
	f("truncated", key, value[:len(value)-1])
	f("trailing byte", key, append(bytes.Clone(value), 0))
	f("watermark key of 4 bytes", wkey[:4], wvalue)
	f("watermark trailing", wkey, append(bytes.Clone(wvalue), 0))
	f("too many parts", key, []byte{version, 2, 100, 0})
	f("empty part", key, bad(engine.Part{Start: 5, End: 5, From: math.MinInt64, Last: 5, Agg: testAgg(false)}))
	f("last outside", key, bad(engine.Part{Start: 0, End: 5, From: math.MinInt64, Last: 5, Agg: testAgg(false)}))
	f("from after start", key, bad(engine.Part{Start: 0, End: 5, From: 1, Last: 4, Agg: testAgg(false)}))
	f("source out of range", key, append(binary.AppendVarint([]byte{version}, math.MaxInt32+1), 0))
	one := Delta{Parts: []engine.Part{{Start: 0, End: 10, From: 0, Last: 5, Agg: testAgg(false, 1)}}}
	plain, _ := AppendDeltaValue(nil, 1, &one)
	withFlags := func(v []byte, set, clear byte) []byte {
		v = bytes.Clone(v)
		v[3] = v[3]&^clear | set // the first part's flags: version, source 1, one part, flags
		return v
	}
	f("late with a From", key, withFlags(plain, partLate, partNoFrom))
	f("values from no sketch", key, withFlags(plain, partFromSketch, 0))
	f("values twice", key, withFlags(value, partValues, 0)) // good's part has partFromSketch
	f("one value of no sketch", key, withFlags(plain, partOneValue, 0))
	f("not one value", key, withFlags(value, partOneValue, 0))
	// raw is a value of one part with flags, then the varints, uvarints (u) and
	// bytes (b) given.
	raw := func(flags byte, fields ...any) []byte {
		v := []byte{version, 2, 1, flags}
		for _, x := range fields {
			switch x := x.(type) {
			case int64:
				v = binary.AppendVarint(v, x)
			case uint64:
				v = binary.AppendUvarint(v, x)
			case []byte:
				v = append(v, x...)
			}
		}
		return v
	}
	u := func(x uint64) uint64 { return x }
	le := func(f float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)) }
	for _, ok := range [][]byte{ // what the cases below break
		raw(partNoFrom, int64(math.MaxInt64-1), u(1), u(0), u(1)),
		raw(0, int64(-1), u(1), u(0), u(math.MaxInt64), u(1)),
		raw(partNoFrom|partSketch|partOneValue, int64(0), u(1), u(0), u(1), []byte{8}, le(1)),
		raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(1), int64(0), u(1), u(0), le(1), le(1), le(1)),
		raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(0), u(0)),
	} {
		if err := DecodeRecord(key, ok, new(Record)); err != nil {
			t.Errorf("% x: %v", ok, err)
		}
	}
	f("end past MaxInt64", key, raw(partNoFrom, int64(math.MaxInt64-1), u(2), u(0), u(1)))
	f("from before MinInt64", key, raw(0, int64(-1), u(1), u(0), u(math.MaxInt64+1), u(1)))
	f("one value at schema 9", key, raw(partNoFrom|partSketch|partOneValue, int64(0), u(1), u(0), u(1), []byte{9}, le(1)))
	f("one infinite value", key, raw(partNoFrom|partSketch|partOneValue, int64(0), u(1), u(0), u(1), []byte{8}, le(math.Inf(1))))
	f("bucket count 0", key, raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(1), int64(0), u(0), u(0), u(0), le(1), le(1), le(1)))
	f("bucket gap too long", key, raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(2), []byte{6}, u(0), u(2), int64(0), u(1), u(maxGap<<1|3), u(0), le(1), le(1), le(1)))
	f("index past int32", key, raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(1), int64(math.MaxInt32+1), u(1), u(0), le(1), le(1), le(1)))
	f("values from an empty sketch", key, raw(partNoFrom|partSketch|partFromSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(0), u(0)))
	f("more buckets than bytes", key, raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(100), int64(2), u(1)))
	f("min outside its bucket", key, raw(partNoFrom|partSketch, int64(0), u(1), u(0), u(1), []byte{6}, u(0), u(1), int64(2), u(1), u(0), le(1000), le(1000), le(1000)))
}

func encodeAgg(t *testing.T, a *aggregate.Aggregate) []byte {
	b, err := aggregate.Value{Agg: a}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPartitionIsKafkas: Partition picks what Kafka's default partitioner picks for
// the key (franz-go's StickyKeyPartitioner hashes keys with murmur2 as the Java
// client does), and Kafka's own murmur2 test vectors.
func TestPartitionIsKafkas(t *testing.T) {
	for key, want := range map[string]int32{ // org.apache.kafka.common.utils.UtilsTest
		"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
	tp := kgo.StickyKeyPartitioner(nil).ForTopic("repartition")
	for i := range 2000 {
		key := AppendDeltaKey(nil, "status_5m", string(store.AppendGroup(nil, []byte{byte(i), byte(i >> 8)}, []byte("500"))))
		key = key[:len(key)-i%5] // every length mod 4
		for _, n := range []int32{1, 3, 6, 48} {
			if got, want := Partition(key, n), int32(tp.Partition(&kgo.Record{Key: key}, int(n))); got != want {
				t.Fatalf("Partition(%q, %d) = %d, franz-go %d", key, n, got, want)
			}
		}
	}
	for _, n := range []int32{0, -1, math.MinInt32} {
		if got := Partition([]byte("k"), n); got != 0 {
			t.Errorf("Partition with %d partitions = %d, want 0", n, got)
		}
	}
	if got := Partition([]byte("k"), math.MaxInt32); got < 0 {
		t.Errorf("Partition(k, MaxInt32) = %d", got)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	d := Delta{Group: "g\x00\x01", Parts: []engine.Part{
		{Start: 0, End: 10, From: math.MinInt64, Last: 5, Agg: testAgg(true, 1, 2)},
		{From: math.MinInt64, Last: 3, Late: true, Agg: testAgg(false, 1)},
		{Start: 60, End: 80, From: 20, Last: 61, Agg: testAgg(true, 7)},
		{Start: -5, End: 5, From: math.MinInt64, Last: 0, Agg: merged()},
	}}
	value, _ := AppendDeltaValue(nil, 3, &d)
	f.Add(AppendDeltaKey(nil, "agg", d.Group), value)
	wk, wv := AppendWatermark(nil, nil, 2, 12345)
	f.Add(wk, wv)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		var r Record
		if err := DecodeRecord(key, value, &r); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if r.Watermark {
			// Varints may be overlong: what decodes must encode to the same record.
			var again Record
			k, v := AppendWatermark(nil, nil, r.Source, r.StreamTime)
			if err := DecodeRecord(k, v, &again); err != nil || again.Watermark != r.Watermark || again.Source != r.Source || again.StreamTime != r.StreamTime {
				t.Fatalf("watermark %+v encodes to %+v, %v", r, again, err)
			}
			return
		}
		for _, p := range r.Delta.Parts {
			if !p.Late && (p.Start >= p.End || p.Last < p.Start || p.Last >= p.End) {
				t.Fatalf("accepted part %+v", p)
			}
		}
		// What decodes encodes to a record that decodes to the same parts.
		again, err := AppendDeltaValue(nil, r.Source, &r.Delta)
		if err != nil {
			t.Fatal(err)
		}
		var r2 Record
		if err := DecodeRecord(key, again, &r2); err != nil {
			t.Fatalf("re-encoded %+v: %v", r.Delta, err)
		}
		for i, p := range r.Delta.Parts {
			q := r2.Delta.Parts[i]
			if p.Start != q.Start || p.End != q.End || p.From != q.From || p.Last != q.Last || p.Late != q.Late ||
				!bytes.Equal(encodeAgg(t, p.Agg), encodeAgg(t, q.Agg)) {
				t.Fatalf("part %d: %+v re-encodes to %+v", i, p, q)
			}
		}
	})
}

// TestDecodeRecordReuses: stage 2 decodes every delta into one Record. Once it has
// decoded one like it, a delta of a key with a sketch of some hundred buckets
// costs one allocation, its group key's string: the parts, aggregates, sketches
// and scratch space are the record's, reused.
func TestDecodeRecordReuses(t *testing.T) {
	vals := make([]float64, 300)
	for i := range vals {
		vals[i] = 0.001 * math.Pow(1.03, float64(i))
	}
	group := string(store.AppendGroup(nil, []byte("/api/users"), []byte("GET")))
	d := Delta{Group: group, Parts: []engine.Part{
		{Start: 0, End: 60000, From: math.MinInt64, Last: 1, Agg: testAgg(true, vals...)},
		{Start: 60000, End: 120000, From: math.MinInt64, Last: 60000, Agg: testAgg(true, 0.2)},
	}}
	key := AppendDeltaKey(nil, "endpoint_1m", group)
	value, err := AppendDeltaValue(nil, -1, &d)
	if err != nil {
		t.Fatal(err)
	}
	wkey, wvalue := AppendWatermark(nil, nil, 1, 5)
	var r Record
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeRecord(key, value, &r); err != nil {
			t.Fatal(err)
		}
		if err := DecodeRecord(wkey, wvalue, &r); err != nil { // in between, as in the topic
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per delta, want 1 (the group key)", allocs)
	}
}
