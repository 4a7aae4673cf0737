package engine

import (
	"encoding/binary"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/loadgen"
	"github.com/kwindow/kwindow/exporter/store"
)

// The benchmarks feed default request-log events from the load generator to the three
// default aggregations (endpoint_1m with P50/P95/P99, status_5m hopping, region_1m
// with quantiles). Event time advances 40,000 events per second of event time, so
// windows open and close as in the demo.
const (
	benchBase    = 1_764_000_000_000
	eventsPerSec = 40_000
	// benchInterval is the events of one 100 ms commit interval at 40,000 events/s,
	// the demo's rate, all on one task: one core at that rate flushes this often.
	// Spreading the rate over the demo's 6 partitions gives each task 667 events
	// per interval, and more flush work per event (see BenchmarkCommitInterval).
	benchInterval = eventsPerSec / 10
)

func benchPayloads() [][]byte {
	gen := loadgen.New(loadgen.Config{Seed: 1})
	payloads := make([][]byte, 4096)
	for i := range payloads {
		payloads[i] = gen.AppendJSON(nil, gen.Next(benchBase))
	}
	return payloads
}

func benchDecoder(b *testing.B, cfg *config.Config) *event.Decoder {
	dec, err := event.NewDecoder(cfg.EventSchema())
	if err != nil {
		b.Fatal(err)
	}
	dec.SetNow(benchBase + 1<<40)
	return dec
}

// BenchmarkInMemory is the in-memory work of a task per event: decode and apply it
// to the three default aggregations, and Flush (collect the changed windows and
// running totals, close windows) every benchInterval events. It encodes nothing and
// builds no store batch: BenchmarkCommitInterval adds that.
func BenchmarkInMemory(b *testing.B) {
	payloads := benchPayloads()
	cfg := config.Default()
	dec := benchDecoder(b, cfg)
	e := New(cfg)
	var ev event.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dec.Decode(payloads[i%len(payloads)], &ev); err != nil {
			b.Fatal(err)
		}
		ev.Time = benchBase + int64(i)/(eventsPerSec/1000)
		e.Process(&ev)
		if (i+1)%benchInterval == 0 {
			e.Flush()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCommitInterval is what a task does per event, all but the Kafka and
// RocksDB I/O: decode and process every event, and every interval (events per
// commit) what stream's task.prepare and task.committed do with the Flush: encode
// every changed value, build its changelog key and record, put both in the
// store.Batch with the checkpoint, encode the closed windows as result records and
// the stream-time records. The records are kept until the interval ends, as the
// producer keeps them until the transaction commits.
//
// every=4000 is one task taking 40,000 events/s with the 100 ms commit interval;
// every=667 is the same rate over the demo's 6 partitions (6 tasks, each flushing
// every 100 ms): more flushes per event, each with about the same keys changed.
func BenchmarkCommitInterval(b *testing.B) {
	for _, every := range []int{benchInterval, benchInterval / 6} {
		b.Run("every="+strconv.Itoa(every), func(b *testing.B) { benchCommitInterval(b, every) })
	}
}

func benchCommitInterval(b *testing.B, every int) {
	payloads := benchPayloads()
	cfg := config.Default()
	dec := benchDecoder(b, cfg)
	e := New(cfg)
	tk := newBenchTask(cfg)
	var ev event.Event
	changes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dec.Decode(payloads[i%len(payloads)], &ev); err != nil {
			b.Fatal(err)
		}
		ev.Time = benchBase + int64(i)/(eventsPerSec/1000)
		e.Process(&ev)
		if (i+1)%every == 0 {
			changes += tk.commit(e.Flush(), int64(i+1))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(changes)/float64(b.N), "changes/event")
}

// benchTask replicates, for the benchmark, what stream's task does with a Flush
// between the end of an interval and the store write (without importing stream:
// stream imports engine): task.prepare, task.produceChangelog and task.committed,
// with the same buffers. Producing is not modelled: the records are kept until
// the interval ends, as the producer keeps them until the transaction ends.
type benchTask struct {
	cfg        *config.Config
	changelogs []string
	batch      store.Batch
	values     []byte
	valuesLen  int
	records    []kgo.Record
	results    []*kgo.Record
	totals     []Change
	windows    []benchWindow
	watermarks []int64
	cp         store.Checkpoint
}

// benchWindow is stream.WindowChange.
type benchWindow struct {
	Agg   int
	Group string
	Start int64
	Value []byte
}

func newBenchTask(cfg *config.Config) *benchTask {
	t := &benchTask{cfg: cfg, cp: store.Checkpoint{ChangelogOffsets: map[string]int64{}}, watermarks: make([]int64, 1)}
	for _, a := range cfg.Aggregations {
		t.changelogs = append(t.changelogs, "kwindow-"+a.Name+"-changelog")
	}
	return t
}

// commit handles one Flush as task.prepare and task.committed do, and returns the
// number of changes.
func (t *benchTask) commit(f *Flush, offset int64) int {
	t.values = slices.Grow(t.values[len(t.values):], t.valuesLen)
	// Commit hands the totals and windows on: new slices, of the right size.
	t.totals = append(slices.Grow(t.totals, len(f.Totals)), f.Totals...)
	t.windows = slices.Grow(t.windows, len(f.Changes))
	for i := range f.Changes {
		c := &f.Changes[i]
		name := t.cfg.Aggregations[c.Agg].Name
		k := store.Key{Agg: name, Group: []byte(c.Group), Start: c.Start}
		var key, value []byte
		if c.Value.Agg == nil {
			key = t.batch.Delete(k)
		} else {
			n := len(t.values)
			b, err := c.Value.AppendBinary(t.values)
			if err != nil {
				panic(err)
			}
			t.values, value = b, b[n:len(b):len(b)]
			key = t.batch.Put(k, value)
		}
		if key == nil {
			panic("invalid key")
		}
		if c.Start != TotalStart {
			t.windows = append(t.windows, benchWindow{Agg: c.Agg, Group: c.Group, Start: c.Start, Value: value})
		}
		t.produce(c.Agg, key, value)
	}
	t.valuesLen = len(t.values)
	for i := range f.Closed {
		c := &f.Closed[i]
		agg := &t.cfg.Aggregations[c.Agg]
		vals, _ := store.SplitGroup([]byte(c.Group))
		t.results = append(t.results, &kgo.Record{Topic: "kwindow-results",
			Key: benchResultKey(nil, agg, vals, c.Start), Value: benchResult(nil, agg, vals, c)})
	}
	// The watermarks move every interval.
	t.watermarks[0] = f.StreamTime
	for i := range t.cfg.Aggregations {
		v := binary.AppendUvarint(nil, uint64(len(t.watermarks)))
		for _, w := range t.watermarks {
			v = binary.AppendVarint(v, w)
		}
		t.produce(i, []byte("\x00watermarks"), v)
	}
	// committed: the checkpoint reaches the last offsets, the batch is written (not
	// here), the totals and windows are handed on and everything is reset for the
	// next interval.
	for i, a := range t.cfg.Aggregations {
		t.cp.ChangelogOffsets[a.Name] = offset + int64(i)
	}
	t.cp.InputOffset, t.cp.StreamTime = offset, f.StreamTime
	t.batch.SetCheckpoint(t.cp)
	t.totals, t.windows = nil, nil
	clear(t.records)
	t.records = t.records[:0]
	t.batch.Reset()
	clear(t.results)
	t.results = t.results[:0]
	return len(f.Changes)
}

// produce is task.produceChangelog and task.record, without the producer.
func (t *benchTask) produce(log int, key, value []byte) {
	if len(t.records) == cap(t.records) {
		t.records = make([]kgo.Record, 0, max(64, 2*cap(t.records)))
	}
	t.records = t.records[:len(t.records)+1]
	t.records[len(t.records)-1] = kgo.Record{Topic: t.changelogs[log], Key: key, Value: value}
}

// benchResultKey and benchResult build a result record's key and JSON value with
// the same fields and appends as stream's resultKey and appendResult.
func benchResultKey(dst []byte, agg *config.Aggregation, vals [][]byte, start int64) []byte {
	dst = append(dst, agg.Name...)
	dst = append(dst, '{')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, agg.GroupBy[i]...)
		dst = append(dst, '=')
		dst = strconv.AppendQuote(dst, string(v))
	}
	dst = append(dst, '}', '@')
	return strconv.AppendInt(dst, start, 10)
}

func benchResult(dst []byte, agg *config.Aggregation, vals [][]byte, c *Change) []byte {
	a := c.Value.Agg
	dst = append(dst, `{"aggregation":`...)
	dst = strconv.AppendQuote(dst, agg.Name)
	dst = append(dst, `,"partition":0,"start":"`...)
	dst = time.UnixMilli(c.Start).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","end":"`...)
	dst = time.UnixMilli(c.Value.End).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","start_ms":`...)
	dst = strconv.AppendInt(dst, c.Start, 10)
	dst = append(dst, `,"end_ms":`...)
	dst = strconv.AppendInt(dst, c.Value.End, 10)
	dst = append(dst, `,"key":{`...)
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, agg.GroupBy[i])
		dst = append(dst, ':')
		dst = strconv.AppendQuote(dst, string(v))
	}
	dst = append(dst, `},"count":`...)
	dst = strconv.AppendUint(dst, a.Count, 10)
	for _, f := range [...]float64{float64(a.ClientErrors), float64(a.ServerErrors), a.ErrorRatio(), a.Sum, a.Min, a.Max} {
		dst = append(dst, `,"m":`...)
		dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	if len(agg.Quantiles) > 0 {
		dst = append(dst, `,"quantiles":{`...)
		for i, q := range agg.Quantiles {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = strconv.AppendFloat(dst, q, 'g', -1, 64)
			dst = append(dst, `":`...)
			dst = strconv.AppendFloat(dst, a.Quantile(q), 'g', -1, 64)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// BenchmarkProcess is the engine alone: BenchmarkInMemory without decoding.
func BenchmarkProcess(b *testing.B) {
	gen := loadgen.New(loadgen.Config{Seed: 1})
	cfg := config.Default()
	dec := benchDecoder(b, cfg)
	events := make([]event.Event, 4096)
	for i := range events {
		var ev event.Event
		if err := dec.Decode(gen.AppendJSON(nil, gen.Next(benchBase)), &ev); err != nil {
			b.Fatal(err)
		}
		for j, d := range ev.Dims {
			ev.Dims[j] = append([]byte(nil), d...) // own the bytes: Decode reuses its buffer
		}
		ev.Dims = append([][]byte(nil), ev.Dims...)
		events[i] = ev
	}
	e := New(cfg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := &events[i%len(events)]
		ev.Time = benchBase + int64(i)/(eventsPerSec/1000)
		e.Process(ev)
		if (i+1)%benchInterval == 0 {
			e.Flush()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
