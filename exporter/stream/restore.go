package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/kafka"
	"github.com/kwindow/kwindow/exporter/store"
)

// restoreBatch is how many changelog records go into one store write.
const restoreBatch = 20000

// startRestore restores partition p in the background; the loop picks the task up
// from s.restored.
func (s *session) startRestore(ctx context.Context, p part) {
	if _, ok := s.tasks[p.p]; ok && p.stage2 {
		return
	}
	if _, ok := s.sources[p.p]; ok && !p.stage2 {
		return
	}
	if r, ok := s.restoring[p]; ok {
		r.cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	s.restores++
	id := s.restores
	s.restoring[p] = restoration{id: id, cancel: cancel}
	s.wg.Go(func() {
		res := restoreResult{part: p, id: id}
		if p.stage2 {
			res.task, res.err = s.restore(ctx, p.p)
		} else {
			res.source, res.err = s.restoreSource(ctx, p.p)
		}
		if ctx.Err() != nil {
			// Revoked or shutting down: not a failure, and not a task.
			if res.task != nil {
				res.task.store.Close()
			}
			res.task, res.source, res.err = nil, nil, nil
		}
		s.restored <- res
	})
}

// restoreSource starts the stage-1 task of input partition p at the stream time
// its last committed transaction wrote to the stream-time topic.
func (s *session) restoreSource(ctx context.Context, p int32) (*source, error) {
	rt := s.rt
	ends, err := rt.adm.ListCommittedOffsets(ctx, rt.streamTimeTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s end offsets: %w", rt.streamTimeTopic, err)
	}
	end, ok := ends.Lookup(rt.streamTimeTopic, p)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("end offset of %s partition %d: %v", rt.streamTimeTopic, p, end.Err)
	}
	streamTime := int64(engine.NoTime)
	if end.Offset > 0 {
		base, err := kafka.ClientOpts(rt.cfg.Kafka)
		if err != nil {
			return nil, err
		}
		cl, err := kgo.NewClient(append(base,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{rt.streamTimeTopic: {p: kgo.NewOffset().AtStart()}}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.WithHooks(rt.health))...)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		// Read to the last stable offset taken above: the topic is compacted to
		// about one record per partition, and the latest is the committed stream time.
		for pos := int64(-1); pos+1 < end.Offset; {
			fetches := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fetches.EachError(func(_ string, _ int32, e error) { err = e })
			if err != nil {
				return nil, fmt.Errorf("reading %s partition %d: %w", rt.streamTimeTopic, p, err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				pos = r.Offset
				if r.Attrs.IsControl() || r.Offset >= end.Offset {
					return
				}
				if t, n := binary.Varint(r.Value); n > 0 {
					streamTime = max(streamTime, t)
				}
			})
		}
	}
	rt.metrics.setSourceStreamTime(p, streamTime)
	return newSource(s, p, streamTime, rt.now()), nil
}

func (rt *Runtime) openStore(ctx context.Context, p int32) (store.Store, error) {
	// One store of p open at a time in this process: a restoration canceled just
	// before (p revoked and assigned again) or a task not yet closed may still
	// hold it, and RocksDB locks its directory. Whoever closes the store lets
	// the next one open it.
	release, err := rt.storeLocks.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	var st store.Store
	if rt.cfg.State.Store == "memory" {
		st = store.NewMemory()
	} else {
		dir := rt.storeDir(p)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			release()
			return nil, err
		}
		// The write-ahead log (unsynced) makes every committed write survive a
		// crash of the process, so a restart after SIGKILL replays only the
		// changelog tail written since the last commit, not the whole changelog.
		// The memtables of the stores share state.memtable_budget: one share per
		// repartition partition, the most stores this instance may hold.
		o := store.RocksOptions{BlockCache: rt.cache, WAL: true,
			MemtableBudget: rt.cfg.State.MemtableBudget, Stores: int(rt.repPartsSeen.Load())}
		if st, err = store.OpenRocks(dir, o); err != nil {
			release()
			return nil, err
		}
	}
	owned := &ownedStore{Store: st, release: release, p: p, reg: &rt.stores}
	rt.stores.add(p, owned)
	return owned, nil
}

// ownedStore releases its partition's store lock when closed. It is listed in
// the runtime's open stores (Runtime.Stores) while open.
type ownedStore struct {
	store.Store
	once    sync.Once
	release func()
	p       int32
	reg     *openStores
}

func (s *ownedStore) Close() error {
	s.reg.remove(s.p, s)
	err := s.Store.Close()
	s.once.Do(s.release)
	return err
}

// storeLocks is one lock per partition: held while a store of it is open.
type storeLocks struct {
	mu    sync.Mutex
	locks map[int32]chan struct{}
}

func (l *storeLocks) acquire(ctx context.Context, p int32) (release func(), err error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[int32]chan struct{}{}
	}
	ch := l.locks[p]
	if ch == nil {
		ch = make(chan struct{}, 1)
		l.locks[p] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// restore opens partition p's store and replays its changelogs from the store's
// checkpoint to their last stable offset, then loads the task.
func (s *session) restore(ctx context.Context, p int32) (*task, error) {
	rt := s.rt
	began := rt.now()
	st, err := rt.openStore(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fatalf(err, "cannot open the local state store in %s (is another kwindow process using the same state.dir?)", rt.storeDir(p))
	}
	opened := rt.now().Sub(began)
	t, err := s.replay(ctx, p, st)
	if errors.Is(err, errStale) {
		rt.log.Warn("local state does not continue its changelog: rebuilding it from the changelog", "partition", p, "err", err)
		if st, err = rt.wipeStore(ctx, p, st); err == nil {
			t, err = s.replay(ctx, p, st)
		}
	}
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	rt.log.Info("partition ready", "partition", p, "took", rt.now().Sub(began).Round(time.Millisecond),
		"store_open", opened.Round(time.Millisecond), "load", t.loadTook.Round(time.Millisecond))
	return t, nil
}

// awaitStableOffsets waits until no transaction holds offsets of the group
// pending (KIP-447), under exactly_once, before partition p's changelogs are
// read. The partition's previous owner may still be ending a transaction: a
// member the group dropped (its session expired under load or during a broker
// outage) while it was committing. Its changelog records lie past the last
// stable offset until it ends; the consumer, which fetches the committed
// offsets with RequireStable, waits for it and then resumes after the records
// that transaction consumed. Reading the changelogs' ends before it ended
// would restore a state without that transaction's changes and resume after
// its input: its deltas lost, its windows published twice.
func (rt *Runtime) awaitStableOffsets(ctx context.Context, p int32) error {
	if !rt.eos {
		return nil
	}
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		offsets, err := rt.adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), rt.cfg.Stream.ApplicationID, rt.repartition)
		if err == nil {
			if o, ok := offsets.Lookup(rt.repartition, p); ok {
				err = o.Err
			}
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return fmt.Errorf("fetching the group's committed offsets: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// errStale: a store's checkpoint is past the end of its changelog (the topic was
// recreated), or before its log start (records it has not seen were deleted).
var errStale = errors.New("local checkpoint outside the changelog")

// wipeStore deletes partition p's local state and opens an empty store.
func (rt *Runtime) wipeStore(ctx context.Context, p int32, st store.Store) (store.Store, error) {
	st.Close()
	if rt.cfg.State.Store == "rocksdb" {
		if err := os.RemoveAll(rt.storeDir(p)); err != nil {
			return nil, err
		}
	}
	return rt.openStore(ctx, p)
}

func (rt *Runtime) storeDir(p int32) string {
	return filepath.Join(rt.cfg.State.Dir, rt.cfg.Stream.ApplicationID, rt.repartition+"-"+strconv.Itoa(int(p)))
}

func (s *session) replay(ctx context.Context, p int32, st store.Store) (*task, error) {
	rt := s.rt
	cp, ok, err := st.Checkpoint()
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	if !ok {
		cp = store.Checkpoint{InputOffset: -1, StreamTime: engine.NoTime}
	}
	if cp.ChangelogOffsets == nil {
		cp.ChangelogOffsets = map[string]int64{}
	}
	if err := rt.awaitStableOffsets(ctx, p); err != nil {
		return nil, err
	}
	// The end is the last stable offset now: every transaction before it has
	// ended, and restoration reads up to it, however long the broker takes.
	ends, err := rt.adm.ListCommittedOffsets(ctx, rt.changelogs...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing changelog end offsets: %w", err)
	}
	starts, err := rt.adm.ListStartOffsets(ctx, rt.changelogs...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing changelog start offsets: %w", err)
	}
	from := map[string]map[int32]kgo.Offset{}
	topicAgg := map[string]string{}
	pos, end := map[string]int64{}, map[string]int64{}
	var left int64
	for i, topic := range rt.changelogs {
		name := rt.logNames[i]
		topicAgg[topic] = name
		o, ok := ends.Lookup(topic, p)
		if !ok || o.Err != nil {
			return nil, fmt.Errorf("end offset of %s partition %d: %v", topic, p, o.Err)
		}
		start := cp.ChangelogOffsets[name]
		if start > o.Offset {
			return nil, fmt.Errorf("%w: %s partition %d: checkpoint %d, end %d", errStale, topic, p, start, o.Offset)
		}
		if so, _ := starts.Lookup(topic, p); start < so.Offset {
			if start > 0 {
				// Records after the checkpoint were deleted (retention or
				// DeleteRecords): what they changed cannot be replayed on top of
				// the local state, so it is rebuilt from what the changelog keeps.
				return nil, fmt.Errorf("%w: %s partition %d: checkpoint %d, log start %d", errStale, topic, p, start, so.Offset)
			}
			start = so.Offset
		}
		if start < o.Offset {
			from[topic] = map[int32]kgo.Offset{p: kgo.NewOffset().At(start)}
			pos[topic], end[topic] = start, o.Offset
			left += o.Offset - start
		}
	}
	rt.metrics.setRestoreLeft(p, left)
	began := rt.now()
	if len(from) > 0 {
		rt.log.Info("restoring partition from changelogs", "partition", p, "records", left)
		if err := s.consumeChangelogs(ctx, p, st, &cp, from, topicAgg, pos, end, left); err != nil {
			return nil, err
		}
		took := rt.now().Sub(began)
		rt.log.Info("restored partition", "partition", p, "records", left, "took", took.Round(time.Millisecond),
			"records_per_second", int64(float64(left)/max(took.Seconds(), 1e-3)))
	}
	rt.metrics.setRestoreLeft(p, 0)
	loading := rt.now()
	t, err := newTask(s, p, st, loading)
	if err != nil {
		return nil, err
	}
	t.loadTook = rt.now().Sub(loading)
	if left > 0 {
		// Windows past retention may have come back from older changelog records.
		t.retainedAt = time.Time{}
		if err := t.retain(rt.now()); err != nil {
			return nil, err
		}
	}
	if rt.opts.Sink != nil {
		if t.initial, err = t.recentTotals(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (s *session) consumeChangelogs(ctx context.Context, p int32, st store.Store, cp *store.Checkpoint,
	from map[string]map[int32]kgo.Offset, topicAgg map[string]string, pos, end map[string]int64, total int64) error {
	rt := s.rt
	base, err := kafka.ClientOpts(rt.cfg.Kafka)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) move the position too; without them
		// a changelog ending in a marker would never seem fully read.
		kgo.KeepControlRecords(),
		kgo.WithHooks(rt.health),
	)...)
	if err != nil {
		return fmt.Errorf("restore client: %w", err)
	}
	defer cl.Close()
	var (
		fail       error // a record no retry can get past
		batch      store.Batch
		done       int64
		lastReport = rt.now()
		lastDone   int64
		reported   int64
	)
	flush := func() error {
		batch.SetCheckpoint(*cp)
		if err := st.Write(&batch); err != nil {
			return fmt.Errorf("writing restored state: %w", err)
		}
		batch.Reset()
		return nil
	}
	behind := func() bool {
		for topic, e := range end {
			if pos[topic] < e {
				return true
			}
		}
		return false
	}
	// Restoration reads until the end offset taken at the start, however long the
	// broker takes: stopping early would make the task go live without part of its
	// state, and its next commit would move the checkpoint past what it never read.
	// Every committed transaction ends in a marker (kept by KeepControlRecords) and
	// compaction never removes the last batch, so the end is always reached; while
	// nothing arrives, a warning says where restoration waits.
	lastRecord := rt.now()
	for behind() {
		pollCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fetches := cl.PollRecords(pollCtx, restoreBatch)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fetchErr error
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fetchErr = fmt.Errorf("fetching %s partition %d: %w", topic, part, err)
			}
		})
		if fetchErr != nil {
			if c := classify(fetchErr); c != fetchErr {
				return c
			}
			rt.health.fetchError("", p, fetchErr) // logged, rate-limited; franz-go retries
		}
		if fetches.NumRecords() == 0 {
			if waited := rt.now().Sub(lastRecord); waited >= 10*time.Second {
				rt.log.Warn("restoring: no changelog records arrive", "partition", p, "waiting_for", waited.Round(time.Second),
					"position", fmt.Sprint(pos), "end", fmt.Sprint(end))
				lastRecord = rt.now()
			}
			continue
		}
		lastRecord = rt.now()
		fetches.EachRecord(func(r *kgo.Record) {
			pos[r.Topic] = r.Offset + 1
			done++
			name := topicAgg[r.Topic]
			cp.ChangelogOffsets[name] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			if string(r.Key) == string(legacyMetaKey) && fail == nil {
				fail = fatalf(fmt.Errorf("%s partition %d offset %d holds a per-partition stream-time record", r.Topic, r.Partition, r.Offset),
					"the changelogs were written by a kwindow from before global windows, whose state does not carry over: use a new stream.application_id (see the README's Upgrading)")
				return
			}
			if string(r.Key) == string(metaKey) {
				if w, ok := parseMeta(r.Value); ok {
					cp.Watermarks = mergeWatermarks(cp.Watermarks, w)
					cp.StreamTime = max(cp.StreamTime, minWatermark(cp.Watermarks))
				}
				return
			}
			k, err := store.ParseKey(r.Key)
			if err != nil {
				rt.log.Warn("skipping malformed changelog record", "topic", r.Topic, "offset", r.Offset, "err", err)
				return
			}
			if r.Value == nil {
				batch.Delete(k)
			} else {
				batch.Put(k, r.Value)
			}
		})
		if fail != nil {
			return fail
		}
		if batch.Len() >= restoreBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		rt.metrics.restored.Add(float64(done - lastDone))
		rt.metrics.setRestoreLeft(p, max(total-done, 0))
		lastDone = done
		if now := rt.now(); now.Sub(lastReport) >= 5*time.Second {
			rt.log.Info("restoring", "partition", p, "restored", done, "remaining", max(total-done, 0),
				"records_per_second", int64(float64(done-reported)/now.Sub(lastReport).Seconds()))
			lastReport, reported = now, done
		}
	}
	return flush()
}
