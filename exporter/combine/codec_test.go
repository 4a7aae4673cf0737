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

func TestDecodeRecordRejects(t *testing.T) {
	good := Delta{Group: "g", Parts: []engine.Part{{Start: 0, End: 10, From: math.MinInt64, Last: 5, Agg: testAgg(true, 1)}}}
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
	f("version 2", key, append([]byte{2}, value[1:]...))
	f("unknown kind", append([]byte{'X'}, key[1:]...), value)
	f("name past the key", []byte{'D', 5, 'a'}, value)
	f("truncated", key, value[:len(value)-1])
	f("trailing byte", key, append(bytes.Clone(value), 0))
	f("watermark key of 4 bytes", wkey[:4], wvalue)
	f("watermark trailing", wkey, append(bytes.Clone(wvalue), 0))
	f("too many parts", key, []byte{1, 2, 100, 0})
	f("empty part", key, bad(engine.Part{Start: 5, End: 5, From: math.MinInt64, Last: 5, Agg: testAgg(false)}))
	f("last outside", key, bad(engine.Part{Start: 0, End: 5, From: math.MinInt64, Last: 5, Agg: testAgg(false)}))
	f("from after start", key, bad(engine.Part{Start: 0, End: 5, From: 1, Last: 4, Agg: testAgg(false)}))
	f("source out of range", key, append(binary.AppendVarint([]byte{1}, math.MaxInt32+1), 0))
	flags := bytes.Clone(value)
	flags[3] = 0x80 // the first part's flags: version, source 1, one part, flags
	f("unknown flags", key, flags)
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
		if _, err := AppendDeltaValue(nil, r.Source, &r.Delta); err != nil {
			t.Fatal(err)
		}
	})
}
