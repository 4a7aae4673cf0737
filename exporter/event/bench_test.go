package event

import (
	"fmt"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/loadgen"
	"github.com/valyala/fastjson"
)

const benchStart = 1732230000000

// loadgenEvents returns n default-schema events from a seeded generator.
func loadgenEvents(n int) [][]byte {
	g := loadgen.New(loadgen.Config{Seed: 42})
	evs := make([][]byte, n)
	for i := range evs {
		evs[i] = g.AppendJSON(nil, g.Next(benchStart+int64(i)*7))
	}
	return evs
}

func benchDecode(b *testing.B, s Schema, events [][]byte) {
	d, err := NewDecoder(s)
	if err != nil {
		b.Fatal(err)
	}
	d.SetNow(benchStart)
	var ev Event
	size := 0
	for _, e := range events {
		size += len(e)
	}
	b.SetBytes(int64(size / len(events)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := d.DecodeRecord(events[i], benchStart, &ev); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(events) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecode decodes 1000 different loadgen events with the default schema.
func BenchmarkDecode(b *testing.B) {
	benchDecode(b, RequestLogSchema(), loadgenEvents(1000))
}

// BenchmarkDecodeMetricPoint decodes generic metric points: nested labels, an RFC 3339
// timestamp with an offset, optional dimensions.
func BenchmarkDecodeMetricPoint(b *testing.B) {
	hosts := []string{"web-1", "web-2", "db-1", "cache-a"}
	events := make([][]byte, 1000)
	for i := range events {
		t := time.UnixMilli(benchStart + int64(i)*1000).In(time.FixedZone("", 3600))
		events[i] = fmt.Appendf(nil, `{"name":"cpu_usage","value":%.3f,"labels":{"host":%q,"region":"eu-west-1","core":%d},"timestamp":%q}`,
			float64(i%97)/97, hosts[i%len(hosts)], i%8, t.Format(time.RFC3339Nano))
	}
	benchDecode(b, genericSchema(), events)
}

// BenchmarkDecodeWide decodes default events that carry ten fields the schema does not
// use (ids, a user agent with escapes, a nested headers object, an array): the cost of
// skipping.
func BenchmarkDecodeWide(b *testing.B) {
	events := loadgenEvents(1000)
	for i, e := range events {
		extra := fmt.Appendf(nil, `{"request_id":"%016x","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","user_agent":"Mozilla/5.0 (X11; Linux x86_64) \"kwindow\" \u00e9","bytes_in":%d,"bytes_out":%d,"cache_hit":%v,"headers":{"accept":"application/json","x-forwarded-for":["10.0.0.1","10.0.0.2"]},"tags":["a","b",1,null],"ratio":%.6e,"user":null,`,
			i*7919, i%4096, i*31%65536, i%3 == 0, float64(i)/3)
		events[i] = append(extra, e[1:]...)
	}
	benchDecode(b, RequestLogSchema(), events)
}

// BenchmarkFastjsonBaseline is the alternative the package comment compares against:
// fastjson with a reused Parser, reading the same fields from the same events, without
// the checks Decode makes (status text, UTF-8, time range).
func BenchmarkFastjsonBaseline(b *testing.B) {
	events := loadgenEvents(1000)
	var p fastjson.Parser
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		v, err := p.ParseBytes(events[i])
		if err != nil {
			b.Fatal(err)
		}
		o, _ := v.Object()
		ts := o.Get("timestamp").GetInt64()
		ep := o.Get("endpoint").GetStringBytes()
		m := o.Get("method").GetStringBytes()
		st := o.Get("status").GetInt()
		r := o.Get("region").GetStringBytes()
		l := o.Get("latency_ms").GetFloat64()
		sink += float64(ts) + float64(len(ep)+len(m)+len(r)+st) + l
		if i++; i == len(events) {
			i = 0
		}
	}
	_ = sink
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
