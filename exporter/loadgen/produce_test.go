package loadgen

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/event"
)

// newProducer starts a kfake cluster with topic "requests" of 6 partitions and
// returns a client of it.
func newProducer(t *testing.T) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "requests"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// consumeAll reads every record of "requests" and decodes it, checking that
// each is a valid request-log event keyed by its endpoint and that every
// endpoint stays in one partition.
func consumeAll(t *testing.T, cl *kgo.Client) []event.Event {
	t.Helper()
	ctx := testContext(t)
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "requests")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })

	c, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumeTopics("requests"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dec, err := event.NewDecoder(event.RequestLogSchema())
	if err != nil {
		t.Fatal(err)
	}
	dec.SetNow(time.Now().UnixMilli())
	partitionOf := map[string]int32{}
	var evs []event.Event
	for int64(len(evs)) < total {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(evs), total, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var ev event.Event
			if err := dec.DecodeRecord(r.Value, r.Timestamp.UnixMilli(), &ev); err != nil {
				t.Fatalf("record %s/%d@%d %s: %v", r.Topic, r.Partition, r.Offset, r.Value, err)
			}
			endpoint := string(ev.Dims[0]) + "|" + string(ev.Dims[3])
			ev.Dims = nil
			if string(r.Key) != endpoint {
				t.Errorf("record of %s keyed %q", endpoint, r.Key)
			}
			if p, ok := partitionOf[endpoint]; ok && p != r.Partition {
				t.Errorf("%s in partitions %d and %d", endpoint, p, r.Partition)
			}
			partitionOf[endpoint] = r.Partition
			evs = append(evs, ev)
		})
	}
	return evs
}

func TestProduce(t *testing.T) {
	cl := newProducer(t)
	before := time.Now().UnixMilli()
	st, err := Produce(testContext(t), cl, New(Config{Seed: 1}), ProduceOptions{Topic: "requests", Rate: 2000, Duration: time.Second})
	after := time.Now().UnixMilli()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if math.Abs(float64(st.Produced)-2000) > 200 || st.Failed != 0 {
		t.Errorf("produced %d (%d failed), want 2000 ± 10%%", st.Produced, st.Failed)
	}
	evs := consumeAll(t, cl)
	if int64(len(evs)) != st.Produced {
		t.Errorf("consumed %d events, Produce reported %d", len(evs), st.Produced)
	}
	for _, ev := range evs {
		if ev.Time < before || ev.Time > after {
			t.Fatalf("event time %d outside the run [%d, %d]", ev.Time, before, after)
		}
	}
}

func TestProduceTotal(t *testing.T) {
	cl := newProducer(t)
	var clock int64 = t0
	st, err := Produce(testContext(t), cl, New(Config{Seed: 1}), ProduceOptions{
		Topic: "requests", Rate: 1e9, Total: 5000,
		StartTime: func() int64 { clock++; return clock },
	})
	if err != nil || st.Produced != 5000 {
		t.Fatalf("Produce = %+v, %v; want 5000 produced", st, err)
	}
	evs := consumeAll(t, cl)
	seen := map[int64]bool{}
	for _, ev := range evs {
		seen[ev.Time] = true
	}
	if len(evs) != 5000 || len(seen) != 5000 || !seen[t0+1] || !seen[t0+5000] {
		t.Errorf("%d events with %d distinct times, want 5000 from StartTime", len(evs), len(seen))
	}
}

func TestProduceStops(t *testing.T) {
	cl := newProducer(t)
	ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
	defer cancel()
	st, err := Produce(ctx, cl, New(Config{}), ProduceOptions{Topic: "requests", Rate: 1000})
	if err != nil || st.Produced < 200 || st.Produced > 400 {
		t.Errorf("Produce until ctx done = %+v, %v; want about 300 produced and no error", st, err)
	}
}

func TestProduceFails(t *testing.T) {
	cl := newProducer(t)
	start := time.Now()
	_, err := Produce(testContext(t), cl, New(Config{}), ProduceOptions{Topic: "missing", Rate: 1000})
	if !errors.Is(err, kerr.UnknownTopicOrPartition) || !strings.Contains(err.Error(), "producing to missing") {
		t.Errorf("error %v, want UNKNOWN_TOPIC_OR_PARTITION for missing", err)
	}
	t.Logf("failed after %v: %v", time.Since(start), err)

	for _, o := range []ProduceOptions{{Rate: 1}, {Topic: "requests"}, {Topic: "requests", Rate: 1, Total: -1}} {
		if _, err := Produce(testContext(t), cl, New(Config{}), o); err == nil {
			t.Errorf("Produce(%+v) did not fail", o)
		}
	}
}

func TestPreload(t *testing.T) {
	cl := newProducer(t)
	const n = 10000
	var calls int
	var last int64
	err := Preload(testContext(t), cl, New(Config{Seed: 3}), "requests", n, t0, 250, func(done int64) { calls++; last = done })
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != n {
		t.Errorf("progress called %d times, last with %d; want the last with %d", calls, last, n)
	}
	evs := consumeAll(t, cl)
	if len(evs) != n {
		t.Fatalf("preloaded %d events, want %d", len(evs), n)
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, ev := range evs {
		lo, hi = min(lo, ev.Time), max(hi, ev.Time)
	}
	if want := int64(t0 + (n-1)*250/1000); lo != t0 || hi != want {
		t.Errorf("event times [%d, %d], want [%d, %d]", lo, hi, t0, want)
	}
}

// BenchmarkPreload measures the generator and the producer together against an
// in-process kfake broker (which shares the CPU).
func BenchmarkPreload(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "requests"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	b.ReportAllocs()
	b.ResetTimer()
	if err := Preload(context.Background(), cl, New(Config{Seed: 1}), "requests", int64(b.N), t0, 1000, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
