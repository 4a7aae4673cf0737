package engine

import (
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

// BenchmarkAggregate is the per-core cost of the whole in-memory path: decode a
// default request-log event and apply it to the three default aggregations
// (endpoint_1m with P50/P95/P99, status_5m hopping, region_1m with quantiles),
// flushing every 100,000 events as a commit interval would. Event time advances
// 40,000 events per second of event time, so windows open and close as in the demo.
func BenchmarkAggregate(b *testing.B) {
	const base = 1_764_000_000_000
	gen := loadgen.New(loadgen.Config{Seed: 1})
	payloads := make([][]byte, 4096)
	for i := range payloads {
		payloads[i] = gen.AppendJSON(nil, gen.Next(base))
	}
	cfg := config.Default()
	dec, err := event.NewDecoder(cfg.EventSchema())
	if err != nil {
		b.Fatal(err)
	}
	dec.SetNow(base + 1<<40)
	e := New(cfg)
	var ev event.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dec.Decode(payloads[i%len(payloads)], &ev); err != nil {
			b.Fatal(err)
		}
		ev.Time = base + int64(i)/40 // 40,000 events per second of event time
		e.Process(&ev)
		if i%100_000 == 0 {
			e.Flush()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkProcess is BenchmarkAggregate without decoding: the engine alone.
func BenchmarkProcess(b *testing.B) {
	const base = 1_764_000_000_000
	gen := loadgen.New(loadgen.Config{Seed: 1})
	cfg := config.Default()
	dec, _ := event.NewDecoder(cfg.EventSchema())
	events := make([]event.Event, 4096)
	for i := range events {
		var ev event.Event
		if err := dec.Decode(gen.AppendJSON(nil, gen.Next(base)), &ev); err != nil {
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
		ev.Time = base + int64(i)/40
		e.Process(ev)
		if i%100_000 == 0 {
			e.Flush()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
