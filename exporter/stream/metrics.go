package stream

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
)

// Namespace prefixes every metric kwindow exports.
const Namespace = "kwindow"

// metrics are the runtime's self-metrics. They are updated per fetch, per commit
// and per restore batch, never per event; the counts of processed, late and invalid
// records move only when the transaction that holds them commits, so they agree
// with the results.
type metrics struct {
	reg              prometheus.Registerer
	kafka            *prometheus.Registry // kprom's, see KafkaGatherer
	names            []string
	consumed         prometheus.Counter
	processed        prometheus.Counter
	invalid          *prometheus.CounterVec
	late             *prometheus.CounterVec
	overflow         *prometheus.CounterVec
	commits          prometheus.Counter
	aborted          prometheus.Counter
	commitSeconds    prometheus.Histogram
	restored         prometheus.Counter
	restoreLeftG     *prometheus.GaugeVec
	streamTime       *prometheus.GaugeVec
	tasks            *prometheus.GaugeVec
	lag              *prometheus.GaugeVec
	storeKeys        *prometheus.GaugeVec
	storeBytes       *prometheus.GaugeVec
	storeMemory      *prometheus.GaugeVec
	freshness        prometheus.Histogram
	lastCommit       prometheus.Gauge
	skipped          *prometheus.CounterVec
	truncated        *prometheus.CounterVec
	repartitioned    prometheus.Counter
	repartitionBytes prometheus.Counter
	lateMerges       *prometheus.CounterVec
	changelogRecords *prometheus.CounterVec
	changelogBytes   *prometheus.CounterVec
	lagSum           atomicFloat // sum of the lag gauges, for the summary line

	mu   sync.Mutex
	left map[int32]int64
}

func newMetrics(cfg *config.Config, reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		consumed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "records_consumed_total",
			Help: "Input records fetched, including ones processed again after an aborted transaction."}),
		processed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "records_processed_total",
			Help: "Valid input records whose processing has committed."}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "invalid_records_total",
			Help: "Malformed input records sent to the dead-letter topic, by reason."}, []string{"reason"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "late_records_total",
			Help: "Records that arrived for a window already closed, by aggregation."}, []string{"aggregation"}),
		overflow: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "overflow_records_total",
			Help: "Records counted under the overflow key because the aggregation held max_keys keys, by aggregation."}, []string{"aggregation"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "commits_total",
			Help: "Committed intervals (transactions under exactly_once)."}),
		aborted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "aborted_transactions_total",
			Help: "Transactions aborted (rebalance, broker or produce error); their records are processed again."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "commit_duration_seconds",
			Help:    "Time to produce the changes of an interval, commit the transaction and write the stores.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "restore_records_total",
			Help: "Changelog records replayed into state stores."}),
		restoreLeftG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "restore_remaining_records",
			Help: "Changelog records left to replay before the partition is ready."}, []string{"partition"}),
		streamTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "stream_time_timestamp_seconds",
			Help: "Committed stream time (largest event time seen) per input partition, unix seconds."}, []string{"partition"}),
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "tasks",
			Help: "Tasks of this instance, by state: a stage-1 task per assigned input partition and a stage-2 task per assigned repartition partition."}, []string{"state"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "consumer_lag",
			Help: "Records of the input partition past the group's committed offset (end offset minus committed offset), every 10 s."}, []string{"partition"}),
		storeKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_keys",
			Help: "Estimated keys (windows and totals) in the partition's state store."}, []string{"partition"}),
		storeBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_live_bytes",
			Help: "Estimated live bytes of the partition's state store."}, []string{"partition"}),
		storeMemory: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_memory_bytes",
			Help: "Memory the partition's RocksDB store holds outside the Go heap, by kind: memtables, table_readers (index and filter blocks outside the block cache); every 10 s."}, []string{"partition", "kind"}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "window_freshness_seconds",
			Help:    "Wall time from a window's end + grace to its committed result (meaningful when event time follows the wall clock).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		lastCommit: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "last_commit_timestamp_seconds",
			Help: "Unix time of the last committed interval (transaction under exactly_once); 0 before the first."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "skipped_records_total",
			Help: "Input records that carry no event and are skipped, not dead-lettered: tombstone (null value, as a compacted topic has) or empty (zero-length value)."}, []string{"reason"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "truncated_copies_total",
			Help: "Dead-letter or late copies whose key or value was cut to fit the broker's record size limit (headers keep the original size and SHA-256)."}, []string{"topic"}),
		repartitioned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "repartition_records_total",
			Help: "Partial aggregates (one per changed key and commit interval) stage 1 shipped to stage 2 in committed transactions."}),
		repartitionBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "repartition_bytes_total",
			Help: "Key and value bytes of those partial aggregates (compare with kafka_*_fetch_bytes for the input)."}),
		lateMerges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "late_merges_total",
			Help: "Partial aggregates stage 2 dropped from a window it had already closed, by aggregation: 0 unless a source's watermark went backwards (see the README)."}, []string{"aggregation"}),
		changelogRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "changelog_records_total",
			Help: "Records stage 2 wrote to its changelogs in committed transactions (changed windows, panes, running totals, rollups, deletions), by changelog (aggregation or rollup)."}, []string{"changelog"}),
		changelogBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "changelog_bytes_total",
			Help: "Key and value bytes of those records, by changelog."}, []string{"changelog"}),
		left: map[int32]int64{},
	}
	for _, a := range cfg.Aggregations {
		m.names = append(m.names, a.Name)
		m.late.WithLabelValues(a.Name)
		m.overflow.WithLabelValues(a.Name)
		m.lateMerges.WithLabelValues(a.Name)
	}
	for _, r := range event.Reasons() {
		m.invalid.WithLabelValues(r.String())
	}
	for _, r := range skipNames {
		m.skipped.WithLabelValues(r)
	}
	for _, t := range []string{"dead_letter", "late"} {
		m.truncated.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(m.consumed, m.processed, m.invalid, m.late, m.overflow, m.commits, m.aborted,
			m.commitSeconds, m.restored, m.restoreLeftG, m.streamTime, m.tasks, m.lag, m.storeKeys, m.storeBytes, m.storeMemory, m.freshness,
			m.lastCommit, m.skipped, m.truncated, m.repartitioned, m.repartitionBytes, m.lateMerges,
			m.changelogRecords, m.changelogBytes)
		// franz-go's own client metrics (kprom), under the same prefix, in a registry
		// of their own (see KafkaGatherer); each session's client registers there.
		m.kafka = prometheus.NewRegistry()
	}
	return m
}

// registerHealth adds the gauges computed from h on every scrape.
func (m *metrics) registerHealth(h *health) {
	if m.reg == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "kafka_up",
			Help: "1 while kwindow is a joined member of its consumer group and the brokers answer, 0 during an outage or a reconnection."},
			func() float64 { return b2f(h.kafkaUp()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "aborted_transactions_in_a_row",
			Help: "Transactions with work that aborted since the last commit; readiness fails from 5 on."},
			func() float64 { return float64(h.abortStreak()) }),
	)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// totals are the counters the summary line reports.
type totals struct{ consumed, processed, commits, aborted, lag float64 }

func (m *metrics) snapshot() totals {
	return totals{counterValue(m.consumed), counterValue(m.processed), counterValue(m.commits), counterValue(m.aborted), m.lagSum.load()}
}

// KafkaGatherer gathers franz-go's client metrics (kwindow_kafka_*). kprom names two
// gauges *_total, which Prometheus reserves for counters; they are served without
// the suffix (kwindow_kafka_buffered_fetch_records, ..._produce_records). Nil when
// the runtime has no Registerer.
func (rt *Runtime) KafkaGatherer() prometheus.Gatherer {
	if rt.metrics.kafka == nil {
		return nil
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := rt.metrics.kafka.Gather()
		for _, mf := range mfs {
			if mf.GetType() != dto.MetricType_COUNTER && strings.HasSuffix(mf.GetName(), "_total") {
				mf.Name = proto.String(strings.TrimSuffix(mf.GetName(), "_total"))
			}
		}
		return mfs, err
	})
}

// committedSource adds what a stage-1 task's committed transaction processed.
func (m *metrics) committedSource(c *source) {
	m.processed.Add(float64(c.processed))
	for i, n := range c.late {
		if n > 0 {
			m.late.WithLabelValues(m.names[i]).Add(float64(n))
		}
	}
	for r, n := range c.invalid {
		m.invalid.WithLabelValues(r.String()).Add(float64(n))
	}
	for r, n := range c.skipped {
		if n > 0 {
			m.skipped.WithLabelValues(skipNames[r]).Add(float64(n))
		}
	}
	if c.shippedNow {
		m.setSourceStreamTime(c.partition, c.streamTime)
	}
}

func (m *metrics) setSourceStreamTime(p int32, t int64) {
	if t != engine.NoTime {
		m.streamTime.WithLabelValues(strconv.Itoa(int(p))).Set(float64(t) / 1000)
	}
}

// forgetSource drops the series of an input partition that left this instance.
func (m *metrics) forgetSource(p int32) {
	m.streamTime.DeleteLabelValues(strconv.Itoa(int(p)))
	m.lag.DeleteLabelValues(strconv.Itoa(int(p)))
}

// committed adds what a stage-2 task's committed transaction merged.
func (m *metrics) committed(t *task) {
	for i := range m.names {
		s := t.eng.Stats(i)
		if d := s.Overflowed - t.overflowSeen[i]; d > 0 {
			m.overflow.WithLabelValues(m.names[i]).Add(float64(d))
		}
		t.overflowSeen[i] = s.Overflowed
		if n := t.lateMerges[i]; n > 0 {
			m.lateMerges.WithLabelValues(m.names[i]).Add(float64(n))
		}
	}
	for log, n := range t.logRecords {
		if n > 0 {
			name := t.rt.logNames[log]
			m.changelogRecords.WithLabelValues(name).Add(float64(n))
			m.changelogBytes.WithLabelValues(name).Add(float64(t.logBytes[log]))
		}
	}
}

func (m *metrics) setRestoreLeft(p int32, n int64) {
	m.mu.Lock()
	m.left[p] = n
	m.mu.Unlock()
	m.restoreLeftG.WithLabelValues(strconv.Itoa(int(p))).Set(float64(n))
}

func (m *metrics) restoreLeft() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, v := range m.left {
		n += v
	}
	return n
}

// forget drops the series of a partition that left this instance.
func (m *metrics) forget(p int32) {
	m.mu.Lock()
	delete(m.left, p)
	m.mu.Unlock()
	for _, v := range []*prometheus.GaugeVec{m.restoreLeftG, m.storeKeys, m.storeBytes} {
		v.DeleteLabelValues(strconv.Itoa(int(p)))
	}
	m.storeMemory.DeletePartialMatch(prometheus.Labels{"partition": strconv.Itoa(int(p))})
}

// atomicFloat is a float64 read and written atomically.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) store(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) load() float64   { return math.Float64frombits(f.bits.Load()) }

// restoreLeftOf is partition p's changelog records left to restore.
func (m *metrics) restoreLeftOf(p int32) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.left[p]
}
