package engine_test

import (
	"runtime"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

// BenchmarkKeyMemory is the Go heap a stage-2 engine holds per group key, by
// aggregation of the default configuration, as the soak test runs it: the load
// generator's 875 synthetic endpoints (about 10,000 keys in all) at 40,000 events/s
// of event time for 150 s, combined by stage 1 and shipped as encoded deltas every
// 100 ms, merged with hopping panes, flushed every interval. B/key is the heap
// still live after a collection, less the heap before the engine existed, over
// the keys the engine holds at the end. Run it with -benchtime=1x: one run is the
// measurement.
func BenchmarkKeyMemory(b *testing.B) {
	for _, name := range []string{"endpoint_1m", "status_5m", "region_1m"} {
		b.Run("agg="+name, func(b *testing.B) {
			cfg := config.Default()
			for i := range cfg.Aggregations {
				if cfg.Aggregations[i].Name == name {
					cfg.Aggregations = cfg.Aggregations[i : i+1]
					break
				}
			}
			if len(cfg.Aggregations) != 1 {
				b.Fatalf("no aggregation %s in the default configuration", name)
			}
			for range b.N {
				keys, bytes := keyMemory(b, cfg)
				b.ReportMetric(float64(keys), "keys")
				b.ReportMetric(float64(bytes)/float64(keys), "B/key")
			}
		})
	}
}

func keyMemory(b *testing.B, cfg *config.Config) (keys int, bytes int64) {
	const (
		base         = 1_764_000_000_000
		eventsPerSec = 40_000
		seconds      = 150
		interval     = eventsPerSec / 10
	)
	gen := loadgen.New(loadgen.Config{Seed: 1, Endpoints: 875})
	dec, err := event.NewDecoder(cfg.EventSchema())
	if err != nil {
		b.Fatal(err)
	}
	dec.SetNow(base + 1<<40)
	c := combine.New(cfg)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := engine.NewWithOptions(cfg, engine.Options{Panes: true,
		LoadTotal: func(int, []byte) (aggregate.Value, error) { return aggregate.Value{}, nil }})
	var (
		ev         event.Event
		payload    []byte
		key, value []byte
		rec        combine.Record
	)
	ship := func(d *combine.Delta) {
		key = combine.AppendDeltaKey(key[:0], cfg.Aggregations[d.Agg].Name, d.Group)
		if value, err = combine.AppendDeltaValue(value[:0], 0, d); err != nil {
			b.Fatal(err)
		}
		if err := combine.DecodeRecord(key, value, &rec); err != nil {
			b.Fatal(err)
		}
		for i := range rec.Delta.Parts {
			e.Merge(d.Agg, rec.Delta.Group, &rec.Delta.Parts[i])
		}
	}
	for i := range eventsPerSec * seconds {
		t := int64(base + i/(eventsPerSec/1000))
		payload = gen.AppendJSON(payload[:0], gen.Next(t))
		if err := dec.Decode(payload, &ev); err != nil {
			b.Fatal(err)
		}
		c.Process(&ev)
		if (i+1)%interval == 0 {
			c.Flush(ship)
			e.AdvanceTo(c.StreamTime())
			e.Flush()
		}
	}
	c, rec, payload, key, value = nil, combine.Record{}, nil, nil, nil
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	keys = e.Stats(0).Keys
	runtime.KeepAlive(e)
	if keys == 0 {
		b.Fatal("no keys held")
	}
	// Signed: with a few keys the heap can end below where it began (what
	// the run before left was collected), and the figure is noise.
	return keys, int64(after.HeapAlloc) - int64(before.HeapAlloc)
}
