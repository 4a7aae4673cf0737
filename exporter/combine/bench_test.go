package combine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

// BenchmarkProcess is stage 1's in-memory work per event, comparable with engine's
// BenchmarkInMemory (same events, same clock, same default aggregations): decode
// and combine each event, and Flush every 4000 events (a 100 ms commit interval at
// 40,000 events/s). Flush hands the deltas to a function that drops them; encoding
// them is BenchmarkFlushEncode's.
func BenchmarkProcess(b *testing.B) {
	benchCombine(b, func(*Delta) {})
}

// BenchmarkFlushEncode adds what the runtime does with each delta: encode its key
// and value and pick its repartition partition (6).
func BenchmarkFlushEncode(b *testing.B) {
	var key, value []byte
	bytes, records := 0, 0
	benchCombine(b, func(d *Delta) {
		key = AppendDeltaKey(key[:0], "endpoint_1m", d.Group)
		var err error
		if value, err = AppendDeltaValue(value[:0], 3, d); err != nil {
			b.Fatal(err)
		}
		Partition(key, 6)
		bytes += len(key) + len(value)
		records++
	})
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/event")
	b.ReportMetric(float64(records)/float64(b.N), "records/event")
}

// BenchmarkRepartitionShare measures what the repartition topic costs: the key and
// value bytes of the deltas stage 1 ships per byte of input, at 40,000 events/s
// over 6 input partitions with a 100 ms commit interval, with the load generator's
// keys (8 endpoints) and with its events spread over 10,000 endpoints. The
// instance's stage-1 tasks share one combiner, so one instance running all 6
// partitions flushes 4,000 events' deltas per interval (instances=1); six instances
// running one partition each flush 666 (instances=6).
func BenchmarkRepartitionShare(b *testing.B) {
	for _, bc := range []struct {
		endpoints, instances int
	}{{0, 1}, {0, 6}, {10_000, 1}, {10_000, 6}} {
		endpoints := bc.endpoints
		every := 4000 / bc.instances
		name := "keys=loadgen"
		if endpoints > 0 {
			name = fmt.Sprintf("endpoints=%d", endpoints)
		}
		name += fmt.Sprintf("/instances=%d", bc.instances)
		b.Run(name, func(b *testing.B) {
			var key, value, batch, inBatch, scratch []byte
			shipped, shippedSnappy, in, inSnappy := 0, 0, 0, 0
			payloads := benchPayloads(b, 20_000, endpoints)
			for i := 0; i < b.N; i++ {
				p := payloads[i%len(payloads)]
				in += len(p)
				inBatch = append(inBatch, p...)
				if (i+1)%every == 0 || i == b.N-1 {
					scratch = s2.EncodeSnappy(scratch[:0], inBatch)
					inSnappy += len(scratch)
					inBatch = inBatch[:0]
				}
			}
			flushed := 0
			benchCombineEvery(b, payloads, every, func(d *Delta) {
				key = AppendDeltaKey(key[:0], "endpoint_1m", d.Group)
				var err error
				if value, err = AppendDeltaValue(value[:0], 3, d); err != nil {
					b.Fatal(err)
				}
				shipped += len(key) + len(value)
				batch = append(append(batch, key...), value...)
				flushed++
				if flushed%64 == 0 { // about one flush's deltas: compress as a batch
					scratch = s2.EncodeSnappy(scratch[:0], batch)
					shippedSnappy += len(scratch)
					batch = batch[:0]
				}
			})
			if len(batch) > 0 {
				shippedSnappy += len(s2.EncodeSnappy(nil, batch))
			}
			b.ReportMetric(float64(shipped)/float64(in), "repartition_bytes_per_input_byte")
			b.ReportMetric(float64(shippedSnappy)/float64(inSnappy), "snappy_bytes_per_snappy_input_byte")
		})
	}
}

// benchPayloads returns n load generator events; with endpoints > 0, each one's
// endpoint is replaced by one of that many.
func benchPayloads(b *testing.B, n, endpoints int) [][]byte {
	gen := loadgen.New(loadgen.Config{Seed: 1})
	rng := rand.New(rand.NewPCG(1, 2))
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = gen.AppendJSON(nil, gen.Next(benchBase))
		if endpoints == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(payloads[i], &m); err != nil {
			b.Fatal(err)
		}
		m["endpoint"] = fmt.Sprintf("/api/v1/resource/%d", rng.IntN(endpoints))
		var err error
		if payloads[i], err = json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
	return payloads
}

const benchBase = 1_764_000_000_000

func benchCombine(b *testing.B, fn func(*Delta)) {
	benchCombineEvery(b, benchPayloads(b, 4096, 0), 4000, fn)
}

// benchCombineEvery decodes and combines the payloads in turn at 40,000 events/s of
// event time, flushing every `every` events.
func benchCombineEvery(b *testing.B, payloads [][]byte, every int, fn func(*Delta)) {
	const eventsPerSec = 40_000
	cfg := config.Default()
	dec, err := event.NewDecoder(cfg.EventSchema())
	if err != nil {
		b.Fatal(err)
	}
	dec.SetNow(benchBase + 1<<40)
	c := New(cfg)
	var ev event.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dec.Decode(payloads[i%len(payloads)], &ev); err != nil {
			b.Fatal(err)
		}
		ev.Time = benchBase + int64(i)/(eventsPerSec/1000)
		c.Process(&ev)
		if (i+1)%every == 0 {
			c.Flush(fn)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
