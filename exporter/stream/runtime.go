package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/kafka"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// Options are what the runtime needs besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the runtime's self-metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// OnResults receives the results of every committed transaction, on the
	// runtime's goroutine: it must not block.
	OnResults func([]Result)
	// Sink receives committed state (results, totals, partition changes).
	Sink Sink
	// Now is the wall clock (idle timeout, progress); default time.Now.
	Now func() time.Time
	// AdvertisedURL is this instance's query API address, published to the group
	// in its join metadata (kafka.AdvertisingBalancer) for the other instances.
	AdvertisedURL string
}

// Runtime is one member of the application's consumer group. It outlives its
// connections to Kafka: Run keeps one session (a transactional group client and
// the tasks it runs) at a time, and replaces a session that fails with a new one,
// after a backoff, until the context ends or an error no retry can fix.
type Runtime struct {
	cfg  *config.Config
	opts Options
	log  *slog.Logger
	now  func() time.Time
	eos  bool
	// changelogs are the changelog topics: one per aggregation, by index, then
	// one per rollup resolution (see rollupLogs). logNames name each in store
	// checkpoints (store.Checkpoint.ChangelogOffsets): the aggregation's name,
	// or its rollups' store.RollupAgg; logRetention is each one's, ms.
	changelogs   []string
	logNames     []string
	logRetention []int64
	// rollupLogs, per aggregation, are the indexes in changelogs of its
	// rollups, in the order of its configuration's rollups.
	rollupLogs [][]int
	// hasRollups: some aggregation has rollups; each lane then has a
	// rollup.Merger.
	hasRollups bool
	threads    int // processing lanes per session (stream.threads)
	metrics    *metrics
	health     *health
	adm        *kadm.Client // lazy: no I/O until first used
	cache      *store.BlockCache
	storeLocks storeLocks // one open store per partition
	stores     openStores // the stage-2 stores open now, for queries
	// repPartsSeen is repParts for other goroutines (RepartitionPartitions).
	repPartsSeen atomic.Int32

	// Topic layout, read when a session connects.
	repartition     string         // stage 1 → stage 2
	streamTimeTopic string         // stage 1's stream times
	aggIndex        map[string]int // aggregation name → index
	hopping         []bool         // by aggregation: hopping windows, kept as panes at stage 2
	partitions      int32          // of the input topic: stage-1 tasks, and the sources stage 2 waits for
	repParts        int32          // of the repartition topic and the changelogs: stage-2 tasks
	outParts        int32          // of the output, dead-letter and late topics (0: disabled)
	dlqParts        int32
	lateParts       int32
	copyLimit       int // largest dead-letter or late copy the broker accepts, bytes

	cur      atomic.Pointer[session] // the running session, nil between sessions
	status   atomic.Pointer[string]  // readiness reason; "" when ready
	activeMu sync.Mutex
	active   []int32 // partitions with a running task, for Partitions
	lagEvery time.Duration

	// backoff between sessions; tests shorten it.
	backoffMin, backoffMax time.Duration
	// purgeEvery: how often consumed repartition records are deleted.
	purgeEvery time.Duration
	// crashAfterCommit, when positive, makes that many committed intervals end
	// their session before anything is written to the stores, as a process that
	// dies between commit and apply (tests).
	crashAfterCommit atomic.Int32
}

// New builds a runtime for cfg. It does no I/O: Run connects, so that a caller
// can serve /healthz and /readyz while Kafka is still unreachable.
func New(_ context.Context, cfg *config.Config, opts Options) (*Runtime, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rt := &Runtime{
		cfg: cfg, opts: opts, log: opts.Logger, now: opts.Now,
		eos:        cfg.Stream.ProcessingGuarantee == config.ExactlyOnce,
		metrics:    newMetrics(cfg, opts.Registerer),
		lagEvery:   10 * time.Second,
		backoffMin: 500 * time.Millisecond,
		purgeEvery: defaultPurgeEvery,
		backoffMax: 30 * time.Second,
	}
	rt.health = newHealth(rt.now, rt.metrics)
	rt.health.log, rt.health.info = rt.log.Warn, rt.log.Info
	rt.setStatus("connecting to Kafka")
	rt.repartition, rt.streamTimeTopic, rt.aggIndex = cfg.RepartitionTopic(), cfg.StreamTimeTopic(), map[string]int{}
	for i, a := range cfg.Aggregations {
		rt.changelogs = append(rt.changelogs, cfg.ChangelogTopic(a.Name))
		rt.logNames = append(rt.logNames, a.Name)
		rt.logRetention = append(rt.logRetention, a.Retention.Millis())
		rt.aggIndex[a.Name] = i
		rt.hopping = append(rt.hopping, a.WindowSpec().Kind == window.Hopping)
	}
	rt.rollupLogs = make([][]int, len(cfg.Aggregations))
	for i, a := range cfg.Aggregations {
		if len(a.Rollups) > 0 {
			rt.hasRollups = true
		}
		for _, r := range a.Rollups {
			rt.rollupLogs[i] = append(rt.rollupLogs[i], len(rt.changelogs))
			rt.changelogs = append(rt.changelogs, cfg.RollupChangelogTopic(a.Name, r.Resolution))
			rt.logNames = append(rt.logNames, store.RollupAgg(a.Name, r.Resolution.Millis()))
			rt.logRetention = append(rt.logRetention, r.Retention.Millis())
		}
	}
	if _, err := event.NewDecoder(cfg.EventSchema()); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	rt.threads = cfg.Stream.Threads
	if rt.threads == 0 {
		rt.threads = runtime.GOMAXPROCS(0)
	}
	base, err := kafka.ClientOpts(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(append(base, kgo.WithHooks(rt.health))...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	rt.adm = kadm.NewClient(admCl)
	if cfg.State.Store == "rocksdb" {
		rt.cache = store.NewBlockCache(cfg.State.BlockCacheSize)
		if opts.Registerer != nil {
			opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_block_cache_bytes",
				Help: "Bytes held by the RocksDB block cache that every state store of this instance shares (bounded by state.block_cache_size)."},
				func() float64 { return float64(rt.cache.Usage()) }))
			for _, m := range []struct {
				state string
				v     func(store.MallocStats) uint64
			}{{"in_use", func(s store.MallocStats) uint64 { return s.InUse }}, {"free", func(s store.MallocStats) uint64 { return s.Free }}} {
				opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "malloc_bytes",
					Help:        "Bytes of the process's C heap (glibc malloc: RocksDB's memory, kwindow's Go heap excluded), by state: in_use, or free in malloc's arenas (resident unless returned to the kernel since).",
					ConstLabels: prometheus.Labels{"state": m.state}},
					func() float64 { return float64(m.v(store.ReadMallocStats())) }))
			}
		}
	}
	return rt, nil
}

// Ready reports whether every assigned partition is restored and the pipeline
// commits, and if not why.
func (rt *Runtime) Ready() (bool, string) {
	if s := *rt.status.Load(); s != "" {
		return false, s
	}
	if why := rt.health.unhealthy(); why != "" {
		return false, why
	}
	return true, ""
}

func (rt *Runtime) setStatus(s string) { rt.status.Store(&s) }

// Run processes until ctx is done, then commits what it has and leaves the group.
// A failed session (Kafka unreachable, a transaction that cannot end, a broker
// restart) is logged and replaced after a backoff; only a fatal error (see
// FatalError) ends Run early.
func (rt *Runtime) Run(ctx context.Context) error {
	defer rt.close()
	bg, stopBg := context.WithCancel(ctx)
	var bgDone sync.WaitGroup
	bgDone.Go(func() { rt.watchLag(bg, rt.lagEvery) })
	bgDone.Go(func() { rt.summarize(bg, time.Minute) })
	if rt.cache != nil {
		bgDone.Go(func() { trimMalloc(bg, trimEvery) })
	}
	defer func() { stopBg(); bgDone.Wait() }()

	wait := rt.backoffMin
	for {
		began := rt.now()
		err := rt.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("session ended")
		}
		if fatal := (*FatalError)(nil); errors.As(err, &fatal) {
			rt.log.Error("stopping: "+fatal.Advice, "err", fatal.Err)
			return err
		}
		if rt.now().Sub(began) > 2*rt.backoffMax {
			wait = rt.backoffMin // it ran a good while: this is a new incident
		}
		rt.health.down(err)
		rt.setStatus(fmt.Sprintf("reconnecting to Kafka (retry in %s): %v", wait.Round(time.Millisecond), err))
		rt.log.Warn("Kafka session failed; reconnecting", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, rt.backoffMax)
	}
}

// FatalError is an error no retry can fix: Run returns it and the process should
// exit with Advice.
type FatalError struct {
	Err    error
	Advice string // what to do about it, for the log
}

func (e *FatalError) Error() string { return e.Advice + ": " + e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

func fatalf(err error, advice string, args ...any) error {
	return &FatalError{Err: err, Advice: fmt.Sprintf(advice, args...)}
}

// close waits for nothing more: the last session ended its interval. It leaves the
// group and releases what the runtime holds.
func (rt *Runtime) close() {
	rt.setStatus("shut down")
	// A static member does not leave when its client closes; leave by instance ID so
	// the others take over its partitions now rather than after its session timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	leave := kadm.LeaveGroup(rt.cfg.Stream.ApplicationID).InstanceIDs(rt.cfg.Stream.InstanceID).Reason("kwindow shutting down")
	if _, err := rt.adm.LeaveGroup(ctx, leave); err != nil {
		rt.log.Warn("leaving the consumer group", "err", err)
	}
	cancel()
	rt.adm.Close()
	if rt.cache != nil {
		rt.cache.Close()
	}
}

// Partitions lists the input partitions whose tasks are running (restored).
func (rt *Runtime) Partitions() []int32 {
	rt.activeMu.Lock()
	defer rt.activeMu.Unlock()
	return slices.Clone(rt.active)
}

func (rt *Runtime) setActive(ps []int32) {
	rt.activeMu.Lock()
	rt.active = ps
	rt.activeMu.Unlock()
}

// watchLag sets kwindow_consumer_lag every interval from the group's committed
// offsets and the input partitions' end offsets. It runs apart from the processing
// loop on purpose: a consumer that is stuck shows a lag that grows.
func (rt *Runtime) watchLag(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lags, err := rt.adm.Lag(ctx, rt.cfg.Stream.ApplicationID)
		if err != nil {
			continue
		}
		l, ok := lags[rt.cfg.Stream.ApplicationID]
		if !ok || l.Error() != nil {
			continue
		}
		var sum int64
		for _, p := range rt.Partitions() {
			if gl, ok := l.Lag.Lookup(rt.cfg.Stream.InputTopic, p); ok && gl.Err == nil && gl.Lag >= 0 {
				rt.metrics.lag.WithLabelValues(strconv.Itoa(int(p))).Set(float64(gl.Lag))
				sum += gl.Lag
			}
		}
		rt.metrics.lagSum.store(float64(sum))
	}
}

// trimEvery is how often trimMalloc returns malloc's free pages.
const trimEvery = 10 * time.Second

// trimMalloc returns the free pages of malloc's arenas to the kernel every
// interval until ctx is done. RocksDB frees a flushed memtable's blocks and
// evicted cache entries in the middle of the arenas, where glibc never
// returns them by itself.
func trimMalloc(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			store.TrimMalloc()
		}
	}
}
