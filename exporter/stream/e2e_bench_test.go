package stream

// The end-to-end benchmarks: throughput under exactly once against a franz-go
// consumer that does nothing, restoration speed, and window freshness under live
// traffic. Each measures one long run against the embedded broker in this
// process, so they run with -benchtime=1x (make bench does), never in go test:
//
//	go test -run='^$' -bench='EndToEnd|ConsumeOnly|Restore|Freshness' -benchtime=1x -timeout=20m ./exporter/stream/
//
// Every phase runs under a pprof label (phase=preload, consume, e2e, build,
// restore, live), so a -cpuprofile can be read one phase at a time
// (go tool pprof -tagfocus=phase=e2e); the broker's goroutines carry no label.

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/broker"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/kafka"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

const (
	benchTopic      = "requests"
	benchPartitions = 6
)

// BenchmarkEndToEnd preloads 5,000,000 default request-log events, 25 µs apart in
// event time (40,000 events per second of event time, so windows open and close as
// in live traffic; 125 s of event time ending now), lz4-compressed as the demo's
// load generator sends them. Then, on the same broker and data:
//
//   - ConsumeOnly: a franz-go group consumer with kwindow's fetch settings
//     (read_committed) reads every record and does nothing with it.
//   - ExactlyOnce: kwindow with the default configuration, exactly_once, commit
//     interval 100 ms, RocksDB state: the time from New until the group's committed
//     input offsets reach the partition ends, that is until every record has been
//     processed and its transaction committed.
//
// ExactlyOnce also reports ratio_of_consume_only (its events/s over ConsumeOnly's,
// when both ran), cores_busy for both (the process's CPU time over the wall time,
// the embedded broker included: 2 on this 2-core machine means no core idles) and
// peak_RSS_MiB: the process's peak resident set during its run
// (VmHWM, reset before it where Linux allows). That includes the embedded broker,
// which holds the 5M records in memory.
func BenchmarkEndToEnd(b *testing.B) {
	const n = 5_000_000
	addr := benchBroker(b)
	ends := benchPreload(b, addr, n, 25)
	inputBytes := topicBytes(b, addr, benchTopic, n)
	var consumeRate float64

	b.Run("ConsumeOnly", func(b *testing.B) {
		oneRun(b)
		cfg := benchConfig(b, addr, "bench-consume", "")
		opts, err := kafka.ClientOpts(cfg.Kafka)
		if err != nil {
			b.Fatal(err)
		}
		freeMemory()
		b.ResetTimer()
		var took, cpu time.Duration
		phase("consume", func() {
			start, cpu0 := time.Now(), cpuTime(b)
			cl, err := kgo.NewClient(append(opts,
				kgo.ConsumerGroup(cfg.Stream.ApplicationID+"-only"),
				kgo.ConsumeTopics(benchTopic),
				kgo.Balancers(kgo.CooperativeStickyBalancer()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.DisableAutoCommit(),
			)...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var got int64
			for got < n {
				fs := cl.PollRecords(ctx, 10000)
				if err := ctx.Err(); err != nil {
					b.Fatalf("consumed %d of %d records: %v", got, n, err)
				}
				fs.EachError(func(t string, p int32, err error) { b.Fatalf("fetching %s partition %d: %v", t, p, err) })
				got += int64(fs.NumRecords())
			}
			took, cpu = time.Since(start), cpuTime(b)-cpu0
		})
		b.StopTimer()
		consumeRate = n / took.Seconds()
		b.ReportMetric(consumeRate, "events/s")
		b.ReportMetric(cpu.Seconds()/took.Seconds(), "cores_busy")
	})

	b.Run("ExactlyOnce", func(b *testing.B) {
		oneRun(b)
		cfg := benchConfig(b, addr, "bench-e2e", "")
		reg := prometheus.NewRegistry()
		var results atomic.Int64
		freeMemory()
		rssReset := resetPeakRSS()
		b.ResetTimer()
		var took, cpu time.Duration
		var br *benchRuntime
		phase("e2e", func() {
			start, cpu0 := time.Now(), cpuTime(b)
			br = benchRun(b, cfg, Options{Registerer: reg, OnResults: func(rs []Result) { results.Add(int64(len(rs))) }})
			br.awaitCommitted(b, ends)
			took, cpu = time.Since(start), cpuTime(b)-cpu0
		})
		b.StopTimer()
		br.stop(b)
		if got := gathered(b, reg, "kwindow_records_processed_total", ""); got != n {
			b.Errorf("kwindow_records_processed_total = %v, want %d", got, n)
		}
		rate := n / took.Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(cpu.Seconds()/took.Seconds(), "cores_busy")
		repBytes := gathered(b, reg, "kwindow_repartition_bytes_total", "")
		b.ReportMetric(repBytes/float64(inputBytes), "repartition_bytes_per_input_byte")
		logBytes := gathered(b, reg, "kwindow_changelog_bytes_total", "")
		b.ReportMetric(logBytes/float64(inputBytes), "changelog_bytes_per_input_byte")
		if consumeRate > 0 {
			b.ReportMetric(rate/consumeRate, "ratio_of_consume_only")
			b.Logf("exactly once: %.0f events/s = %.2f × consume only (%.0f events/s)", rate, rate/consumeRate, consumeRate)
		}
		rss := peakRSSMiB(b)
		b.ReportMetric(rss, "peak_RSS_MiB")
		scope := "since the start of the run"
		if !rssReset {
			scope = "since the process started (VmHWM could not be reset)"
		}
		commits, commitSecs := histogram(b, reg, "kwindow_commit_duration_seconds")
		b.Logf("%d records in %v, %d window results; %d commits taking %v in all (%v each on average); peak RSS %s %.0f MiB, embedded broker included",
			n, took.Round(time.Millisecond), results.Load(), commits, seconds(commitSecs), seconds(commitSecs/float64(max(commits, 1))), scope, rss)
		b.Logf("changelogs: %.0f records, %.0f bytes (status_5m: %.0f records, %.0f bytes)",
			gathered(b, reg, "kwindow_changelog_records_total", ""), logBytes,
			gathered(b, reg, "kwindow_changelog_records_total", "status_5m"), gathered(b, reg, "kwindow_changelog_bytes_total", "status_5m"))
	})
}

// restoreAggregations make a large changelog: one-second windows of every
// (endpoint, status, region) seen.
const restoreAggregations = `
aggregations:
  - name: requests_1s
    group_by: [endpoint, status, region]
    window: {type: tumbling, size: 1s}
    quantiles: [0.5, 0.95, 0.99]
`

// BenchmarkRestore builds state from 2,000,000 events 5 ms apart (10,000 one-second
// windows of about fifty (endpoint, status, region) keys each: a changelog of about
// 500,000 records), then deletes the state directory and measures a fresh Runtime
// from New until it is ready (Ready() and every partition active): changelog
// records restored per second, group join included. The runtime notices that a
// restoration has finished at its next poll, at most a commit interval later.
func BenchmarkRestore(b *testing.B) {
	oneRun(b)
	const n = 2_000_000
	addr := benchBroker(b)
	ends := benchPreload(b, addr, n, 5000)
	cfg := benchConfig(b, addr, "bench-restore", restoreAggregations)

	phase("build", func() {
		start := time.Now()
		br := benchRun(b, cfg, Options{})
		br.awaitCommitted(b, ends)
		br.stop(b)
		b.Logf("built the state from %d events in %v", n, time.Since(start).Round(time.Millisecond))
	})
	changelog := cfg.ChangelogTopic(cfg.Aggregations[0].Name)
	starts, endOffs := listOffsets(b, addr, changelog)
	var size int64
	for p, e := range endOffs {
		size += e - starts[p]
	}
	b.Logf("changelog %s: %d offsets (records and transaction markers) over %d partitions", changelog, size, len(endOffs))
	if err := os.RemoveAll(cfg.State.Dir); err != nil {
		b.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	freeMemory()
	b.ResetTimer()
	var took, joined time.Duration
	var early bool
	var br *benchRuntime
	phase("restore", func() {
		start := time.Now()
		br = benchRun(b, cfg, Options{Registerer: reg})
		early = br.awaitReady(b, reg, func(status string) {
			if joined == 0 && !strings.HasPrefix(status, "joining") {
				joined = time.Since(start)
			}
		})
		took = time.Since(start)
	})
	b.StopTimer()
	restored := gathered(b, reg, "kwindow_restore_records_total", "")
	br.stop(b)
	if restored == 0 {
		b.Fatal("nothing restored")
	}
	b.ReportMetric(restored/took.Seconds(), "records/s")
	b.ReportMetric(restored, "records")
	b.Logf("restored %.0f changelog records in %v (group joined after %v)", restored, took.Round(time.Millisecond), joined.Round(time.Millisecond))
	if early {
		b.Logf("Ready() was true before every partition was assigned and active")
	}
}

// BenchmarkFreshness sends live traffic at 40,000 events/s for 75 s (event time =
// wall clock) to kwindow with the default configuration, and measures for every
// closed window delivered to OnResults (after its transaction commits) how long
// after the window's end + grace it arrived. Any 75 s holds at least one minute
// boundary + 10 s where all three default aggregations close windows. The results
// of one such moment are committed together, so the percentiles are over some
// 300 results but only one or two moments.
func BenchmarkFreshness(b *testing.B) {
	oneRun(b)
	const (
		rate     = 40000
		duration = 75 * time.Second
	)
	addr := benchBroker(b)
	cfg := benchConfig(b, addr, "bench-fresh", "")
	var (
		mu    sync.Mutex
		fresh []float64 // ms
	)
	onResults := func(rs []Result) {
		now := float64(time.Now().UnixMicro()) / 1000
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			fresh = append(fresh, now-float64(r.Value.End+cfg.Aggregations[r.Agg].Grace.Millis()))
		}
	}
	reg := prometheus.NewRegistry()
	br := benchRun(b, cfg, Options{Registerer: reg, OnResults: onResults})
	if br.awaitReady(b, reg, nil) {
		b.Logf("Ready() was true before every partition was assigned and active")
	}
	cl := benchProducer(b, addr)
	b.ResetTimer()
	var st loadgen.ProduceStats
	phase("live", func() {
		var err error
		st, err = loadgen.Produce(context.Background(), cl, loadgen.New(loadgen.Config{Seed: 1}),
			loadgen.ProduceOptions{Topic: benchTopic, Rate: rate, Duration: duration})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.StopTimer()
	br.stop(b)
	mu.Lock()
	defer mu.Unlock()
	if len(fresh) == 0 {
		b.Fatal("no window closed")
	}
	slices.Sort(fresh)
	b.ReportMetric(quantile(fresh, 0.5), "p50_ms")
	b.ReportMetric(quantile(fresh, 0.99), "p99_ms")
	b.ReportMetric(float64(len(fresh)), "windows")
	b.Logf("%d events at %.0f events/s; %d window results: freshness min %.0f ms, p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		st.Produced, st.Rate, len(fresh), fresh[0], quantile(fresh, 0.5), quantile(fresh, 0.99), fresh[len(fresh)-1])
}

// quantile is the nearest-rank q-quantile of sorted.
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// oneRun refuses b.N > 1: each of these benchmarks is one long run over data
// prepared for it.
func oneRun(b *testing.B) {
	b.Helper()
	if b.N != 1 {
		b.Fatalf("b.N = %d: run the end-to-end benchmarks with -benchtime=1x", b.N)
	}
}

// phase runs f under the pprof label phase=name.
func phase(name string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("phase", name), func(context.Context) { f() })
}

// benchBroker starts the embedded broker with the input topic.
func benchBroker(b *testing.B) string {
	b.Helper()
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Partitions: benchPartitions, Topics: []string{benchTopic}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	return br.Addr()
}

// benchConfig is the default configuration (or its aggregations replaced by
// aggregations) for an application named app and a unique suffix against addr,
// exactly once, with RocksDB state in a temporary directory. The suffix gives
// every run its own group, internal topics and committed offsets, so -count N
// repeats a benchmark instead of resuming the last run's group (which processed
// nothing and reported an absurd rate).
func benchConfig(b *testing.B, addr, app, aggregations string) *config.Config {
	b.Helper()
	app = fmt.Sprintf("%s-%d", app, benchRunID.Add(1))
	yml := fmt.Sprintf(`
kafka:
  brokers: [%q]
stream:
  application_id: %s
  instance_id: bench
  input_topic: %s
  processing_guarantee: exactly_once
state:
  store: rocksdb
  dir: %q
%s`, addr, app, benchTopic, b.TempDir(), aggregations)
	cfg, err := config.Parse("bench.yml", []byte(yml))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// benchRunID numbers the benchmarks' applications within the process.
var benchRunID atomic.Int64

func benchProducer(b *testing.B, addr string) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// benchPreload produces n default events spacing µs apart in event time, the last
// one now, and returns the end offset of each input partition. It runs outside
// the benchmark timer.
func benchPreload(b *testing.B, addr string, n, spacingMicros int64) map[int32]int64 {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	start := time.Now()
	phase("preload", func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		startMs := time.Now().UnixMilli() - n*spacingMicros/1000
		if err := loadgen.Preload(ctx, cl, loadgen.New(loadgen.Config{Seed: 1}), benchTopic, n, startMs, spacingMicros, nil); err != nil {
			b.Fatal(err)
		}
	})
	_, ends := listOffsets(b, addr, benchTopic)
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != n {
		b.Fatalf("input topic holds %d records, want %d", total, n)
	}
	took := time.Since(start)
	b.Logf("preloaded %d events in %v (%.0f events/s), not measured", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return ends
}

// topicBytes reads the n records of topic (not measured) and returns the bytes of
// their keys and values: what the repartition bytes are compared with.
func topicBytes(b *testing.B, addr, topic string, n int64) int64 {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var got, bytes int64
	for got < n {
		fs := cl.PollRecords(ctx, 10000)
		if err := ctx.Err(); err != nil {
			b.Fatalf("reading %s: %d of %d records: %v", topic, got, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Key) + len(r.Value))
		})
	}
	return bytes
}

// listOffsets returns the start and end offsets of topic's partitions.
func listOffsets(b *testing.B, addr, topic string) (starts, ends map[int32]int64) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	get := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) map[int32]int64 {
		l, err := list(ctx, topic)
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			b.Fatalf("listing offsets of %s: %v", topic, err)
		}
		m := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		return m
	}
	return get(adm.ListStartOffsets), get(adm.ListEndOffsets)
}

// benchRuntime is a Runtime running in the background.
type benchRuntime struct {
	rt     *Runtime
	cfg    *config.Config
	cancel context.CancelFunc
	done   chan struct{}
	err    error // of Run, once done is closed
}

// benchRun creates a Runtime and runs it until stop. Warnings go to stderr.
func benchRun(b *testing.B, cfg *config.Config, opts Options) *benchRuntime {
	b.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := New(ctx, cfg, opts)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	br := &benchRuntime{rt: rt, cfg: cfg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(br.done)
		br.err = rt.Run(ctx)
	}()
	return br
}

// stop ends the run (Run commits what it has) and waits for it.
func (br *benchRuntime) stop(b *testing.B) {
	b.Helper()
	br.cancel()
	<-br.done
	if br.err != nil {
		b.Fatalf("run: %v", br.err)
	}
}

// wait sleeps d, failing b if the runtime stopped meanwhile.
func (br *benchRuntime) wait(b *testing.B, d time.Duration) {
	b.Helper()
	select {
	case <-br.done:
		b.Fatalf("the runtime stopped: %v", br.err)
	case <-time.After(d):
	}
}

// awaitCommitted waits until the group's committed input offsets reach ends.
func (br *benchRuntime) awaitCommitted(b *testing.B, ends map[int32]int64) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.cfg.Kafka.Brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		offs, err := adm.FetchOffsetsForTopics(ctx, br.cfg.Stream.ApplicationID, br.cfg.Stream.InputTopic)
		cancel()
		if err == nil && committedAll(offs, br.cfg.Stream.InputTopic, ends) {
			br.awaitStage2(b, adm, deadline)
			return
		}
		br.wait(b, 10*time.Millisecond)
	}
	b.Fatal("the input offsets were not all committed within 10 minutes")
}

// awaitStage2 waits, once every input offset is committed, until stage 2 has
// committed every repartition record stage 1 wrote: then every event is in the
// stores and every window that can close has been published.
func (br *benchRuntime) awaitStage2(b *testing.B, adm *kadm.Client, deadline time.Time) {
	b.Helper()
	topic := br.cfg.RepartitionTopic()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	listed, err := adm.ListCommittedOffsets(ctx, topic)
	cancel()
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		b.Fatalf("repartition end offsets: %v", err)
	}
	// The last stable offset is one past the commit marker of the last transaction
	// that wrote the partition; the consumer commits one past the last record it
	// read, which is the marker's offset (markers are not handed to it).
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = max(o.Offset-1, 0) })
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		offs, err := adm.FetchOffsetsForTopics(ctx, br.cfg.Stream.ApplicationID, topic)
		cancel()
		if err == nil && committedAll(offs, topic, ends) {
			return
		}
		br.wait(b, 10*time.Millisecond)
	}
	b.Fatal("the repartition offsets were not all committed within 10 minutes")
}

func committedAll(offs kadm.OffsetResponses, topic string, ends map[int32]int64) bool {
	for p, end := range ends {
		if o, ok := offs.Lookup(topic, p); !ok || o.Err != nil || o.At < end {
			return false
		}
	}
	return true
}

// awaitReady waits until the runtime is ready with every input partition active:
// Ready alone can be true between joining the group and handling the assignment
// (the generation is known before the partitions are). It says whether that
// happened. status, when set, sees each readiness reason.
func (br *benchRuntime) awaitReady(b *testing.B, reg *prometheus.Registry, status func(string)) (readyEarly bool) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		ok, why := br.rt.Ready()
		if status != nil {
			status(why)
		}
		if ok {
			if gathered(b, reg, "kwindow_tasks", "active") == 2*benchPartitions { // stage 1 and stage 2
				return readyEarly
			}
			readyEarly = true
		}
		br.wait(b, 2*time.Millisecond)
	}
	b.Fatal("not ready within 10 minutes")
	return readyEarly
}

// gathered sums the samples of the counter or gauge name in reg; when labelValue
// is set, only those with a label of that value.
func gathered(b *testing.B, reg *prometheus.Registry, name, labelValue string) float64 {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelValue != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetValue() == labelValue }) {
				continue
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// histogram returns the sample count and sum of the histogram name in reg.
func histogram(b *testing.B, reg *prometheus.Registry, name string) (uint64, float64) {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	b.Fatalf("no histogram %s", name)
	return 0, 0
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// freeMemory collects garbage and returns it to the OS before a measurement.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// cpuTime is the CPU time the process has used so far, user and system, every
// goroutine (the embedded broker's included).
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux 4.0+).
func resetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

// peakRSSMiB is the process's peak resident set (VmHWM) in MiB.
func peakRSSMiB(b *testing.B) float64 {
	b.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
