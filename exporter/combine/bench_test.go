package combine

import (
	"testing"

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

func benchCombine(b *testing.B, fn func(*Delta)) {
	const (
		benchBase    = 1_764_000_000_000
		eventsPerSec = 40_000
		every        = eventsPerSec / 10
	)
	gen := loadgen.New(loadgen.Config{Seed: 1})
	payloads := make([][]byte, 4096)
	for i := range payloads {
		payloads[i] = gen.AppendJSON(nil, gen.Next(benchBase))
	}
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
