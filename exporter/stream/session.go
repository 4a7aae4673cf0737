package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/kafka"
)

// session is one connection of the runtime to Kafka: a group member with its
// transactional client and the tasks of the partitions it was assigned. A session
// that fails is thrown away whole (tasks included) and Run starts a new one; the
// stores keep what was committed, so the new session's tasks restore only the
// changelog tail.
type session struct {
	rt  *Runtime
	cl  *kgo.Client
	txn *kgo.GroupTransactSession // exactly once only

	sources    map[int32]*source // stage 1, by input partition
	lanes      []*lane           // where records are processed (lanes.go)
	deltas     int               // repartition records of this interval
	deltaBytes int               // and their key and value bytes
	key, val   []byte            // scratch
	tasks      map[int32]*task   // stage 2, by repartition partition
	restoring  map[part]restoration
	restores   int64 // restorations started, to tell a stale result from the current one
	events     chan groupEvent
	restored   chan restoreResult
	wg         sync.WaitGroup

	produceErr atomic.Pointer[error]
	produced   atomic.Int64 // records produced in the current interval
	joined     atomic.Bool
	// abortCause, when set, makes the current interval abort: records arrived for
	// a partition without a running task, so their offsets must not be committed.
	abortCause string
	statsAt    time.Time       // last store statistics
	purgeTo    map[int32]int64 // repartition offsets committed since the last purge
	purgedAt   time.Time
	purging    atomic.Bool
	ready      bool // every assigned partition was running at the last check
}

type groupEvent struct {
	assigned bool
	parts    []part
}

// part is an assigned partition: of the input topic (a stage-1 source) or of the
// repartition topic (a stage-2 task).
type part struct {
	stage2 bool
	p      int32
}

func (p part) String() string {
	if p.stage2 {
		return fmt.Sprintf("repartition-%d", p.p)
	}
	return fmt.Sprintf("input-%d", p.p)
}

// restoration is a partition's restoration under way.
type restoration struct {
	id     int64 // which one: a partition revoked and assigned again restores anew
	cancel context.CancelFunc
}

type restoreResult struct {
	part   part
	id     int64
	task   *task   // stage 2
	source *source // stage 1
	err    error
}

// runSession connects, joins the group and processes until ctx ends (nil) or the
// session fails (the error says why; a *FatalError if no retry can help).
func (rt *Runtime) runSession(ctx context.Context) error {
	rt.setStatus("connecting to Kafka")
	if err := rt.connect(ctx); err != nil {
		return err
	}
	s := &session{
		rt:        rt,
		sources:   map[int32]*source{},
		purgeTo:   map[int32]int64{},
		tasks:     map[int32]*task{},
		restoring: map[part]restoration{},
		events:    make(chan groupEvent, 256),
		restored:  make(chan restoreResult, 256),
	}
	var err error
	if s.lanes, err = newLanes(rt, rt.threads); err != nil {
		return err
	}
	defer s.close()
	if err := s.open(); err != nil {
		return err
	}
	s.startLanes()
	rt.cur.Store(s)
	defer rt.cur.Store(nil)
	rt.setStatus("joining the consumer group")
	return s.loop(ctx)
}

// connect checks the input topic and creates the topics kwindow owns, each attempt
// bounded so that an unresponsive broker is reported rather than waited on.
func (rt *Runtime) connect(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := rt.ensureTopics(actx)
	var fatal *FatalError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fatal):
		return err
	case errors.Is(err, kafka.ErrNoTopic):
		return fatalf(err, "the input topic %q does not exist: create it, or set stream.input_topic", rt.cfg.Stream.InputTopic)
	case isAuthError(err):
		return fatalf(err, "Kafka refused kwindow's credentials or permissions: check kafka.sasl and the ACLs")
	case ctx.Err() == nil && actx.Err() != nil:
		return fmt.Errorf("connecting to Kafka %v: no answer within 15s: %w", rt.cfg.Kafka.Brokers, err)
	}
	return fmt.Errorf("connecting to Kafka %v: %w", rt.cfg.Kafka.Brokers, err)
}

// ensureTopics checks the input topic and creates the topics kwindow owns: the
// repartition topic (stage_1 → stage 2), the changelogs (compacted, as many
// partitions as the repartition topic), the stream-time topic (compacted, as
// many as the input), and the output, dead-letter and late topics.
func (rt *Runtime) ensureTopics(ctx context.Context) error {
	s := &rt.cfg.Stream
	n, err := kafka.PartitionCount(ctx, rt.adm, s.InputTopic)
	if err != nil {
		return err
	}
	rt.partitions = n
	rep := s.RepartitionPartitions
	if rep == 0 {
		rep = n
	}
	compact := "compact,delete"
	del := "delete"
	// Stage 2 reads a repartition record within a commit interval or two; a day
	// covers any outage its changelogs would survive too. (The embedded broker
	// also trims it past the group's committed offsets.)
	day := fmt.Sprint(24 * time.Hour.Milliseconds())
	specs := []kafka.TopicSpec{
		{Name: rt.repartition, Partitions: rep, Configs: map[string]*string{"cleanup.policy": &del, "retention.ms": &day}},
		{Name: rt.streamTimeTopic, Partitions: n, Configs: map[string]*string{"cleanup.policy": &compact}},
	}
	for i, topic := range rt.changelogs {
		// Windows (and rollup windows) leave the store after their retention;
		// their changelog records may go a day later (Kafka Streams' additional
		// changelog retention).
		retention := fmt.Sprint(rt.logRetention[i] + 24*time.Hour.Milliseconds())
		specs = append(specs, kafka.TopicSpec{Name: topic, Partitions: rep, Configs: map[string]*string{
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
	// Topics that existed keep their partition counts: the changelogs must match
	// the repartition topic, whose partitions are stage 2's tasks.
	if rt.repParts, err = kafka.PartitionCount(ctx, rt.adm, rt.repartition); err != nil {
		return err
	}
	rt.repPartsSeen.Store(rt.repParts)
	if s.RepartitionPartitions > 0 && rt.repParts != s.RepartitionPartitions {
		return fatalf(fmt.Errorf("topic %s has %d partitions, stream.repartition_partitions is %d", rt.repartition, rt.repParts, s.RepartitionPartitions),
			"the repartition topic cannot change its partition count: use a new stream.application_id")
	}
	for _, t := range rt.changelogs {
		c, err := kafka.PartitionCount(ctx, rt.adm, t)
		if err != nil {
			return err
		}
		if c != rt.repParts {
			return fatalf(fmt.Errorf("changelog %s has %d partitions, the repartition topic %s %d", t, c, rt.repartition, rt.repParts),
				"the changelogs do not match the repartition topic (state from an older kwindow, or topics created by hand): use a new stream.application_id")
		}
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
	if rt.lateParts, err = count(s.LateTopic); err != nil {
		return err
	}
	rt.copyLimit, err = rt.maxCopyBytes(ctx)
	return err
}

// awaitChangelogs waits until every changelog partition answers a ListOffsets
// request: brokers learn of new topics asynchronously.
func (rt *Runtime) awaitChangelogs(ctx context.Context) error {
	for {
		ends, err := rt.adm.ListCommittedOffsets(ctx, append([]string{rt.repartition, rt.streamTimeTopic}, rt.changelogs...)...)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("changelog topics not available: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// open creates the session's group client (transactional under exactly_once).
func (s *session) open() error {
	rt := s.rt
	cfg := rt.cfg
	base, err := kafka.ClientOpts(cfg.Kafka)
	if err != nil {
		return fatalf(err, "bad Kafka client configuration")
	}
	opts := append(base,
		kgo.ConsumerGroup(cfg.Stream.ApplicationID),
		kgo.ConsumeTopics(cfg.Stream.InputTopic, rt.repartition),
		// Cooperative-sticky, with this instance's query API URL in its metadata.
		kgo.Balancers(kafka.AdvertisingBalancer(rt.opts.AdvertisedURL)),
		kgo.SessionTimeout(time.Duration(cfg.Stream.SessionTimeout)),
		// A third of the session timeout, as Kafka advises (kgo's default, 3s,
		// would equal a short session timeout and let the member expire).
		kgo.HeartbeatInterval(min(3*time.Second, time.Duration(cfg.Stream.SessionTimeout)/3)),
		// Static membership: an instance restarted after a crash (or a session
		// replaced after a broker outage) takes its old member's place and
		// assignment at once, instead of the group waiting for the dead member's
		// session and then rebalancing. Runtime.close leaves explicitly.
		kgo.InstanceID(cfg.Stream.InstanceID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onRevoked),
		kgo.WithHooks(rt.health),
	)
	if rt.metrics.kafka != nil {
		opts = append(opts, kgo.WithHooks(kprom.NewMetrics(Namespace, kprom.Registerer(rt.metrics.kafka), kprom.Subsystem("kafka"))))
	}
	if rt.eos {
		opts = append(opts, kgo.TransactionalID(cfg.Stream.ApplicationID+"-"+cfg.Stream.InstanceID), kgo.TransactionTimeout(config.TransactionTimeout))
		if s.txn, err = kgo.NewGroupTransactSession(opts...); err != nil {
			return fatalf(err, "bad Kafka client configuration")
		}
		s.cl = s.txn.Client()
		return nil
	}
	if s.cl, err = kgo.NewClient(opts...); err != nil {
		return fatalf(err, "bad Kafka client configuration")
	}
	return nil
}

// The group callbacks run on franz-go's goroutine. onAssigned pauses the new
// partitions before fetching starts for them, so that no record of a partition
// arrives before its task is restored; only the loop resumes a partition, once its
// task runs. Revoking never resumes: a partition lost and assigned again in one
// go (a session lost while a transaction was ending) stays paused until restored.
func (s *session) onAssigned(_ context.Context, cl *kgo.Client, m map[string][]int32) {
	s.joined.Store(true)
	parts := s.parts(m)
	if len(parts) == 0 {
		return
	}
	cl.PauseFetchPartitions(m)
	s.events <- groupEvent{assigned: true, parts: parts}
}

func (s *session) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if parts := s.parts(m); len(parts) > 0 {
		s.events <- groupEvent{parts: parts}
	}
}

func (s *session) parts(m map[string][]int32) []part {
	var parts []part
	for _, p := range m[s.rt.cfg.Stream.InputTopic] {
		parts = append(parts, part{p: p})
	}
	for _, p := range m[s.rt.repartition] {
		parts = append(parts, part{stage2: true, p: p})
	}
	return parts
}

// pause stops fetching p; resume starts it again.
func (s *session) pause(p part)  { s.cl.PauseFetchPartitions(s.topicOf(p)) }
func (s *session) resume(p part) { s.cl.ResumeFetchPartitions(s.topicOf(p)) }

func (s *session) topicOf(p part) map[string][]int32 {
	if p.stage2 {
		return map[string][]int32{s.rt.repartition: {p.p}}
	}
	return map[string][]int32{s.rt.cfg.Stream.InputTopic: {p.p}}
}

// loop runs commit intervals until ctx ends or the session fails.
func (s *session) loop(ctx context.Context) error {
	rt := s.rt
	interval := time.Duration(rt.cfg.Stream.CommitInterval)
	for ctx.Err() == nil {
		if err := s.handleChanges(ctx); err != nil {
			return err
		}
		if rt.eos {
			if err := s.txn.Begin(); err != nil {
				return classify(fmt.Errorf("beginning transaction: %w", err))
			}
		}
		deadline := time.Now().Add(interval) // the real clock: it bounds a real wait
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		polled := 0
		for pollCtx.Err() == nil {
			fetches := s.cl.PollRecords(pollCtx, 10000)
			if fetches.IsClientClosed() {
				cancel()
				return errors.New("kafka client closed")
			}
			var fatal error
			fetches.EachError(func(t string, p int32, err error) {
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					return
				}
				if c := classify(err); c != err {
					fatal = c
				}
				rt.health.fetchError(t, p, err)
			})
			if fatal != nil {
				cancel()
				return fatal
			}
			now := rt.now()
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				if len(p.Records) == 0 {
					return
				}
				if p.Topic == rt.repartition {
					t := s.tasks[p.Partition]
					if t == nil {
						s.orphaned(part{stage2: true, p: p.Partition}, len(p.Records))
						return
					}
					polled += len(p.Records)
					s.dispatch(laneWork{task: t, recs: p.Records})
					return
				}
				rt.metrics.consumed.Add(float64(len(p.Records)))
				c := s.sources[p.Partition]
				if c == nil {
					s.orphaned(part{p: p.Partition}, len(p.Records))
					return
				}
				polled += len(p.Records)
				s.dispatch(laneWork{src: c, recs: p.Records, now: now})
			})
			if len(s.events) == 0 && len(s.restored) == 0 {
				continue // the lanes go on while the loop polls
			}
			// Group changes and restorations touch sources and tasks.
			if err := s.sync(); err != nil {
				cancel()
				return s.unreadable(err)
			}
			if err := s.handleChanges(ctx); err != nil {
				cancel()
				return err
			}
		}
		if err := s.sync(); err != nil {
			cancel()
			return s.unreadable(err)
		}
		cancel()
		end, endCancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.commit(end, polled)
		endCancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// unreadable ends the session on a repartition record stage 2 cannot read
// (task.process), aborting the interval.
func (s *session) unreadable(err error) error {
	if s.rt.eos {
		s.txn.End(context.Background(), kgo.TryAbort)
	}
	return fatalf(err, "a repartition record cannot be read")
}

// orphaned handles records of a partition that has no running task (revoked, or
// still restoring). They must not be counted, and their offsets must not be
// committed: under exactly_once the interval aborts, which rewinds the consumer to
// the committed offsets; under at_least_once the explicit offset commit leaves the
// partition out. Either way the partition is paused until a task runs for it.
func (s *session) orphaned(p part, n int) {
	rt := s.rt
	if rt.eos && s.abortCause == "" {
		s.abortCause = fmt.Sprintf("%d records arrived for partition %v, which has no running task", n, p)
	}
	s.pause(p)
}

// handleChanges applies group changes and finished restorations without blocking.
// Group changes go first: a restoration that finished for a partition revoked
// since must not resume it.
func (s *session) handleChanges(ctx context.Context) error {
	for {
		select {
		case ev := <-s.events:
			s.applyGroupEvent(ctx, ev)
			continue
		default:
		}
		select {
		case ev := <-s.events:
			s.applyGroupEvent(ctx, ev)
		case res := <-s.restored:
			if err := s.finishRestore(res); err != nil {
				return err
			}
		default:
			s.updateStatus()
			return nil
		}
	}
}

func (s *session) applyGroupEvent(ctx context.Context, ev groupEvent) {
	if ev.assigned {
		s.rt.log.Info("partitions assigned", "partitions", fmt.Sprint(ev.parts))
	} else {
		s.rt.log.Info("partitions revoked", "partitions", fmt.Sprint(ev.parts))
	}
	for _, p := range ev.parts {
		if ev.assigned {
			s.startRestore(ctx, p)
		} else {
			s.closeTask(p)
		}
	}
}

func (s *session) finishRestore(res restoreResult) error {
	rt := s.rt
	r, ok := s.restoring[res.part]
	if !ok || r.id != res.id {
		// Revoked meanwhile (and perhaps assigned again: a newer restoration
		// runs for it).
		if res.task != nil {
			res.task.store.Close()
		}
		return nil
	}
	r.cancel()
	delete(s.restoring, res.part)
	if res.task == nil && res.source == nil && res.err == nil {
		return nil // canceled: the session is ending
	}
	if res.err != nil {
		return fmt.Errorf("restoring partition %v: %w", res.part, res.err)
	}
	if res.source != nil {
		s.sources[res.part.p] = res.source
	} else {
		s.tasks[res.part.p] = res.task
		rt.stores.activate(res.part.p, res.task.store)
		if rt.opts.Sink != nil {
			rt.opts.Sink.Active(res.part.p, res.task.cp.StreamTime, res.task.initial)
			res.task.initial = nil
		}
	}
	s.resume(res.part)
	return nil
}

func (s *session) updateStatus() {
	rt := s.rt
	switch {
	case !s.joined.Load():
		rt.setStatus("joining the consumer group")
	case len(s.restoring) > 0:
		ps := slices.SortedFunc(maps.Keys(s.restoring), func(a, b part) int {
			return cmp.Or(cmp.Compare(b2i(a.stage2), b2i(b.stage2)), cmp.Compare(a.p, b.p))
		})
		rt.setStatus(fmt.Sprintf("restoring %d of %d assigned partitions (%v): %d changelog records left",
			len(ps), len(ps)+len(s.tasks)+len(s.sources), ps, int64(rt.metrics.restoreLeft())))
	default:
		if !s.ready {
			s.ready = true
			rt.log.Info("ready: every assigned partition is restored and running", "input_partitions", len(s.sources), "repartition_partitions", len(s.tasks))
		}
		rt.setStatus("")
	}
	if len(s.restoring) > 0 {
		s.ready = false
	}
	if s.joined.Load() {
		rt.health.up()
	}
	rt.setActive(slices.Sorted(maps.Keys(s.sources)))
	rt.metrics.tasks.WithLabelValues("active").Set(float64(len(s.tasks) + len(s.sources)))
	rt.metrics.tasks.WithLabelValues("restoring").Set(float64(len(s.restoring)))
}

// closeTask stops partition p's restoration or task. It leaves p paused (see
// onAssigned).
func (s *session) closeTask(p part) {
	rt := s.rt
	if r, ok := s.restoring[p]; ok {
		r.cancel()
		delete(s.restoring, p)
	}
	if c, ok := s.sources[p.p]; ok && !p.stage2 {
		if rt.eos && c.nextInput >= 0 && s.abortCause == "" {
			// Its records of this interval leave with it: their offsets must not
			// commit. (A real revocation aborts the transaction anyway.)
			s.abortCause = fmt.Sprintf("partition %v was revoked with records not yet committed", p)
		}
		delete(s.sources, p.p)
		rt.metrics.forgetSource(p.p)
		return
	}
	if t, ok := s.tasks[p.p]; ok && p.stage2 {
		if rt.eos && t.nextInput >= 0 && s.abortCause == "" {
			s.abortCause = fmt.Sprintf("partition %v was revoked with records not yet committed", p)
		}
		delete(s.tasks, p.p)
		if rt.opts.Sink != nil {
			rt.opts.Sink.Inactive(p.p)
		}
		if err := t.store.Close(); err != nil {
			rt.log.Warn("closing store", "partition", p.p, "err", err)
		}
	}
	if p.stage2 {
		rt.metrics.forget(p.p)
	}
}

// close ends the session: restorations stop, tasks close (what they committed is
// in their stores), and the client closes without leaving the group, so that the
// next session (or the restarted process) takes the member's place.
func (s *session) close() {
	s.stopLanes()
	for p, r := range s.restoring {
		r.cancel()
		delete(s.restoring, p)
	}
	s.wg.Wait()
	// Restorations that finished meanwhile hand back open stores.
	for {
		select {
		case res := <-s.restored:
			if res.task != nil {
				res.task.store.Close()
			}
			continue
		default:
		}
		break
	}
	for p := range s.tasks {
		s.closeTask(part{stage2: true, p: p})
	}
	for p := range s.sources {
		s.closeTask(part{p: p})
	}
	s.rt.setActive(nil)
	if s.txn != nil {
		s.txn.Close()
	} else if s.cl != nil {
		s.cl.Close()
	}
}

// classify turns the errors no retry can fix into a *FatalError and returns the
// others as they are.
func classify(err error) error {
	switch {
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.FencedInstanceID):
		return fatalf(err, "another process runs with this stream.instance_id and took over its partitions (fenced): give every instance its own instance_id")
	case isAuthError(err):
		return fatalf(err, "Kafka refused kwindow's credentials or permissions: check kafka.sasl and the ACLs")
	}
	return err
}

func isAuthError(err error) bool {
	for _, e := range []error{kerr.SaslAuthenticationFailed, kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed, kerr.ClusterAuthorizationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
