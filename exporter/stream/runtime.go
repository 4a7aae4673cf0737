package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/kafka"
	"github.com/kwindow/kwindow/exporter/store"
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
}

// Runtime is one member of the application's consumer group.
type Runtime struct {
	cfg        *config.Config
	opts       Options
	log        *slog.Logger
	now        func() time.Time
	eos        bool
	changelogs []string // per aggregation
	partitions int32    // of the input topic
	outParts   int32    // of the output, dead-letter and late topics (0: disabled)
	dlqParts   int32
	lateParts  int32

	cl    *kgo.Client
	sess  *kgo.GroupTransactSession // exactly once only
	adm   *kadm.Client
	cache *store.BlockCache

	tasks     map[int32]*task
	restoring map[int32]context.CancelFunc
	events    chan groupEvent
	restored  chan restoreResult
	dec       *event.Decoder
	ev        event.Event
	metrics   *metrics

	produceErr atomic.Pointer[error]
	produced   atomic.Int64 // records produced in the current interval
	joined     atomic.Bool
	status     atomic.Pointer[string] // readiness reason; "" when ready
	activeMu   sync.Mutex
	active     []int32 // partitions with a running task, for Partitions
	wg         sync.WaitGroup
	statsAt    time.Time     // last store statistics
	lagEvery   time.Duration // how often watchLag measures
}

type groupEvent struct {
	assigned   bool
	partitions []int32
}

type restoreResult struct {
	partition int32
	task      *task
	err       error
}

// New checks the topics (creating the ones kwindow owns) and joins nothing yet.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Runtime, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rt := &Runtime{
		cfg: cfg, opts: opts, log: opts.Logger, now: opts.Now,
		eos:       cfg.Stream.ProcessingGuarantee == config.ExactlyOnce,
		tasks:     map[int32]*task{},
		restoring: map[int32]context.CancelFunc{},
		events:    make(chan groupEvent, 256),
		restored:  make(chan restoreResult, 256),
		metrics:   newMetrics(cfg, opts.Registerer),
		lagEvery:  10 * time.Second,
	}
	rt.setStatus("joining the consumer group")
	var err error
	if rt.dec, err = event.NewDecoder(cfg.EventSchema()); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	base, err := kafka.ClientOpts(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	rt.adm = kadm.NewClient(admCl)
	if err := rt.ensureTopics(ctx); err != nil {
		rt.adm.Close()
		return nil, err
	}
	opts2 := append(base,
		kgo.ConsumerGroup(cfg.Stream.ApplicationID),
		kgo.ConsumeTopics(cfg.Stream.InputTopic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(time.Duration(cfg.Stream.SessionTimeout)),
		// Static membership: an instance restarted after a crash takes its old
		// member's place and assignment at once, instead of the group waiting for the
		// dead member's session and then rebalancing. close leaves explicitly.
		kgo.InstanceID(cfg.Stream.InstanceID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(rt.onAssigned),
		kgo.OnPartitionsRevoked(rt.onRevoked),
		kgo.OnPartitionsLost(rt.onRevoked),
	)
	opts2 = append(opts2, rt.metrics.clientHooks()...)
	if rt.eos {
		opts2 = append(opts2, kgo.TransactionalID(cfg.Stream.ApplicationID+"-"+cfg.Stream.InstanceID), kgo.TransactionTimeout(time.Minute))
		if rt.sess, err = kgo.NewGroupTransactSession(opts2...); err != nil {
			rt.adm.Close()
			return nil, fmt.Errorf("kafka transactional session: %w", err)
		}
		rt.cl = rt.sess.Client()
	} else if rt.cl, err = kgo.NewClient(opts2...); err != nil {
		rt.adm.Close()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if cfg.State.Store == "rocksdb" {
		rt.cache = store.NewBlockCache(cfg.State.BlockCacheSize)
	}
	return rt, nil
}

// ensureTopics checks the input topic and creates the changelogs (compacted, as
// many partitions as the input) and the output, dead-letter and late topics.
func (rt *Runtime) ensureTopics(ctx context.Context) error {
	s := &rt.cfg.Stream
	n, err := kafka.PartitionCount(ctx, rt.adm, s.InputTopic)
	if err != nil {
		return err
	}
	rt.partitions = n
	compact := "compact,delete"
	var specs []kafka.TopicSpec
	for _, a := range rt.cfg.Aggregations {
		topic := rt.cfg.ChangelogTopic(a.Name)
		rt.changelogs = append(rt.changelogs, topic)
		// Windows leave the store after retention; their changelog records may go a
		// day later (Kafka Streams' additional changelog retention).
		retention := fmt.Sprint((a.Retention.Millis() + 24*time.Hour.Milliseconds()))
		specs = append(specs, kafka.TopicSpec{Name: topic, Partitions: n, Configs: map[string]*string{
			"cleanup.policy": &compact, "retention.ms": &retention}})
	}
	for _, t := range []string{s.OutputTopic, s.DeadLetterTopic, s.LateTopic} {
		if t != "" && t != "-" {
			specs = append(specs, kafka.TopicSpec{Name: t})
		}
	}
	if err := kafka.EnsureTopics(ctx, rt.adm, s.ReplicationFactor, specs...); err != nil {
		return err
	}
	if err := rt.awaitChangelogs(ctx); err != nil {
		return err
	}
	count := func(t string) (int32, error) {
		if t == "" || t == "-" {
			return 0, nil
		}
		return kafka.PartitionCount(ctx, rt.adm, t)
	}
	if rt.outParts, err = count(s.OutputTopic); err != nil {
		return err
	}
	if rt.dlqParts, err = count(s.DeadLetterTopic); err != nil {
		return err
	}
	rt.lateParts, err = count(s.LateTopic)
	return err
}

// awaitChangelogs waits until every changelog partition answers a ListOffsets
// request: brokers learn of new topics asynchronously.
func (rt *Runtime) awaitChangelogs(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := rt.adm.ListCommittedOffsets(ctx, rt.changelogs...)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("changelog topics not available: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ready reports whether every assigned partition is restored, and if not why.
func (rt *Runtime) Ready() (bool, string) {
	s := *rt.status.Load()
	return s == "", s
}

func (rt *Runtime) setStatus(s string) { rt.status.Store(&s) }

// The group callbacks run on franz-go's goroutine: they only pause new partitions
// (before fetching starts for them, so no record arrives before restoration) and
// hand the change to the loop.
func (rt *Runtime) onAssigned(_ context.Context, cl *kgo.Client, m map[string][]int32) {
	rt.joined.Store(true)
	ps := m[rt.cfg.Stream.InputTopic]
	if len(ps) == 0 {
		return
	}
	cl.PauseFetchPartitions(map[string][]int32{rt.cfg.Stream.InputTopic: ps})
	rt.events <- groupEvent{assigned: true, partitions: ps}
}

func (rt *Runtime) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if ps := m[rt.cfg.Stream.InputTopic]; len(ps) > 0 {
		rt.events <- groupEvent{partitions: ps}
	}
}

// Run processes until ctx is done, then commits what it has and leaves the group.
func (rt *Runtime) Run(ctx context.Context) error {
	defer rt.close()
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); rt.watchLag(lagCtx, rt.lagEvery) }()
	defer func() { stopLag(); <-lagDone }()
	interval := time.Duration(rt.cfg.Stream.CommitInterval)
	for ctx.Err() == nil {
		if err := rt.handleChanges(ctx); err != nil {
			return err
		}
		if rt.eos {
			if err := rt.sess.Begin(); err != nil {
				return fmt.Errorf("beginning transaction: %w", err)
			}
		}
		deadline := time.Now().Add(interval) // the real clock: it bounds a real wait
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		polled := 0
		for pollCtx.Err() == nil {
			fetches := rt.cl.PollRecords(pollCtx, 10000)
			if fetches.IsClientClosed() {
				cancel()
				return errors.New("kafka client closed")
			}
			fetches.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					rt.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
				}
			})
			now := rt.now()
			rt.dec.SetNow(now.UnixMilli())
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				t := rt.tasks[p.Partition]
				if t == nil || len(p.Records) == 0 {
					return // revoked while this fetch was under way: its transaction aborts
				}
				rt.metrics.consumed.Add(float64(len(p.Records)))
				polled += len(p.Records)
				for _, r := range p.Records {
					t.process(r, now)
				}

			})
			if err := rt.handleChanges(ctx); err != nil {
				cancel()
				return err
			}
		}
		cancel()
		end, endCancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := rt.commit(end, polled)
		endCancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// commit ends the interval: produce every task's changes, commit the transaction
// (or flush and commit offsets under at-least-once), then write the stores, or roll
// every task back if the transaction aborted.
func (rt *Runtime) commit(ctx context.Context, polled int) error {
	start := rt.now()
	for _, t := range rt.tasks {
		t.prepare(start)
	}
	if polled == 0 && rt.produced.Load() == 0 {
		// Nothing read, nothing to write: end the transaction without committing.
		// (A commit without offsets costs 500 ms in franz-go: with no
		// TxnOffsetCommit response it cannot tell the broker supports KIP-447 and
		// waits for transaction markers as for brokers older than 2.5.)
		if rt.eos {
			if _, err := rt.sess.End(ctx, kgo.TryAbort); err != nil {
				return fmt.Errorf("ending empty transaction: %w", err)
			}
		}
		return nil
	}
	defer rt.produced.Store(0)
	committed := true
	if rt.eos {
		try := kgo.TryCommit
		if rt.produceErr.Load() != nil {
			try = kgo.TryAbort
		}
		var err error
		committed, err = rt.sess.End(ctx, try)
		if err != nil {
			return fmt.Errorf("ending transaction: %w", err)
		}
	} else {
		if err := rt.cl.Flush(ctx); err != nil {
			return fmt.Errorf("flushing: %w", err)
		}
		if p := rt.produceErr.Load(); p != nil {
			return fmt.Errorf("producing: %w", *p)
		}
	}
	if p := rt.produceErr.Swap(nil); p != nil {
		rt.log.Warn("transaction aborted: a record failed to produce", "err", *p)
	}
	if !committed {
		rt.metrics.aborted.Inc()
		for _, t := range rt.tasks {
			if err := t.rollback(); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		results []Result
		commits []Commit
	)
	stats := start.Sub(rt.statsAt) >= 10*time.Second
	if stats {
		rt.statsAt = start
	}
	for _, t := range rt.tasks {
		r, c, err := t.committed()
		if err != nil {
			return err
		}
		results = append(results, r...)
		commits = append(commits, c)
		if stats {
			if s, err := t.store.Stats(); err == nil {
				rt.metrics.storeKeys.WithLabelValues(t.label).Set(float64(s.Keys))
				rt.metrics.storeBytes.WithLabelValues(t.label).Set(float64(s.LiveBytes))
			}
		}
		if err := t.retain(start); err != nil {
			return err
		}
	}
	if !rt.eos {
		// The stores hold the changes: now the input offsets may move on.
		if err := rt.cl.CommitUncommittedOffsets(ctx); err != nil {
			rt.log.Warn("committing offsets (the records will be processed again)", "err", err)
		}
	}
	rt.metrics.commits.Inc()
	done := rt.now()
	rt.metrics.commitSeconds.Observe(done.Sub(start).Seconds())
	for _, r := range results {
		closeAt := r.Value.End + rt.cfg.Aggregations[r.Agg].Grace.Millis()
		rt.metrics.freshness.Observe(max(float64(done.UnixMilli()-closeAt)/1000, 0))
	}
	if len(results) > 0 && rt.opts.OnResults != nil {
		rt.opts.OnResults(results)
	}
	if rt.opts.Sink != nil {
		rt.opts.Sink.Committed(commits)
	}
	return nil
}

// handleChanges applies group changes and finished restorations without blocking.
func (rt *Runtime) handleChanges(ctx context.Context) error {
	for {
		select {
		case ev := <-rt.events:
			for _, p := range ev.partitions {
				if ev.assigned {
					rt.startRestore(ctx, p)
				} else {
					rt.closeTask(p)
				}
			}
		case res := <-rt.restored:
			cancel, ok := rt.restoring[res.partition]
			if !ok {
				if res.task != nil { // revoked meanwhile
					res.task.store.Close()
				}
				continue
			}
			cancel()
			delete(rt.restoring, res.partition)
			if res.err != nil {
				return fmt.Errorf("restoring partition %d: %w", res.partition, res.err)
			}
			rt.tasks[res.partition] = res.task
			if rt.opts.Sink != nil {
				rt.opts.Sink.Active(res.partition, res.task.cp.StreamTime, res.task.totalsNow())
			}
			rt.cl.ResumeFetchPartitions(map[string][]int32{rt.cfg.Stream.InputTopic: {res.partition}})
		default:
			rt.updateStatus()
			return nil
		}
	}
}

// joinedGroup: franz-go calls OnPartitionsAssigned after every join, even with
// nothing assigned, and only once the assignment is known (after SyncGroup).
func (rt *Runtime) joinedGroup() bool { return rt.joined.Load() }

func (rt *Runtime) updateStatus() {
	switch {
	case !rt.joinedGroup():
		rt.setStatus("joining the consumer group")
	case len(rt.restoring) > 0:
		ps := slices.Sorted(maps.Keys(rt.restoring))
		rt.setStatus(fmt.Sprintf("restoring %d of %d assigned partitions (%v): %d changelog records left",
			len(ps), len(ps)+len(rt.tasks), ps, int64(rt.metrics.restoreLeft())))
	default:
		rt.setStatus("")
	}
	rt.activeMu.Lock()
	rt.active = slices.Sorted(maps.Keys(rt.tasks))
	rt.activeMu.Unlock()
	rt.metrics.tasks.WithLabelValues("active").Set(float64(len(rt.tasks)))
	rt.metrics.tasks.WithLabelValues("restoring").Set(float64(len(rt.restoring)))
}

func (rt *Runtime) closeTask(p int32) {
	if cancel, ok := rt.restoring[p]; ok {
		cancel()
		delete(rt.restoring, p)
	}
	if t, ok := rt.tasks[p]; ok {
		delete(rt.tasks, p)
		if rt.opts.Sink != nil {
			rt.opts.Sink.Inactive(p)
		}
		if err := t.store.Close(); err != nil {
			rt.log.Warn("closing store", "partition", p, "err", err)
		}
	}
	rt.metrics.forget(p)
	rt.cl.ResumeFetchPartitions(map[string][]int32{rt.cfg.Stream.InputTopic: {p}})
}

// close commits nothing more: the caller already ended the last interval. It waits
// for restorations, closes the stores and leaves the group.
func (rt *Runtime) close() {
	for p, cancel := range rt.restoring {
		cancel()
		delete(rt.restoring, p)
	}
	rt.wg.Wait()
	for p := range rt.tasks {
		rt.closeTask(p)
	}
	if rt.sess != nil {
		rt.sess.Close()
	} else {
		rt.cl.Close()
	}
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

// produce sends r within the current transaction; ok runs once it is acknowledged.
func (rt *Runtime) produce(r *kgo.Record, ok func(*kgo.Record)) {
	rt.produced.Add(1)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			rt.failProduce(fmt.Errorf("topic %s partition %d: %w", r.Topic, r.Partition, err))
			return
		}
		if ok != nil {
			ok(r)
		}
	}
	if rt.eos {
		rt.sess.Produce(context.Background(), r, promise)
	} else {
		rt.cl.Produce(context.Background(), r, promise)
	}
}

func (rt *Runtime) failProduce(err error) { rt.produceErr.CompareAndSwap(nil, &err) }

func (rt *Runtime) deadLetter(partition int32, r *kgo.Record, reason event.Reason, err error) {
	rt.produce(&kgo.Record{
		Topic: rt.cfg.Stream.DeadLetterTopic, Partition: partition % rt.dlqParts, Key: r.Key, Value: r.Value,
		Headers: sourceHeaders(r,
			kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason.String())},
			kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())}),
	}, nil)
}

func (rt *Runtime) lateRecord(partition int32, r *kgo.Record, late uint64) {
	if rt.lateParts == 0 {
		return
	}
	var names []string
	for i, a := range rt.cfg.Aggregations {
		if late&(1<<i) != 0 {
			names = append(names, a.Name)
		}
	}
	rt.produce(&kgo.Record{
		Topic: rt.cfg.Stream.LateTopic, Partition: partition % rt.lateParts, Key: r.Key, Value: r.Value,
		Headers: sourceHeaders(r, kgo.RecordHeader{Key: HeaderLateFor, Value: []byte(strings.Join(names, ","))}),
	}, nil)
}

func (rt *Runtime) publishResult(partition int32, c *engine.Change) {
	if rt.outParts == 0 {
		return
	}
	agg := &rt.cfg.Aggregations[c.Agg]
	vals, _ := store.SplitGroup([]byte(c.Group))
	rt.produce(&kgo.Record{
		Topic: rt.cfg.Stream.OutputTopic, Partition: partition % rt.outParts,
		Key: resultKey(nil, agg, vals, c.Start), Value: appendResult(nil, agg, vals, partition, c),
	}, nil)
}

// Partitions lists the input partitions whose tasks are running (restored).
func (rt *Runtime) Partitions() []int32 {
	rt.activeMu.Lock()
	defer rt.activeMu.Unlock()
	return slices.Clone(rt.active)
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
		for _, p := range rt.Partitions() {
			if gl, ok := l.Lag.Lookup(rt.cfg.Stream.InputTopic, p); ok && gl.Err == nil && gl.Lag >= 0 {
				rt.metrics.lag.WithLabelValues(strconv.Itoa(int(p))).Set(float64(gl.Lag))
			}
		}
	}
}
