package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwindow/kwindow/exporter/engine"
)

// commit ends the interval. The rule: the stores, the view, the output callback and
// the input offsets move on only when every record the interval produced was
// acknowledged by the broker and the transaction committed. Any produce failure,
// at any point up to the commit, aborts the transaction and rolls every task back
// to its store; an error ending the transaction (its outcome unknown) ends the
// session, whose successor restores from the changelogs what did commit.
func (s *session) commit(ctx context.Context, polled int) error {
	rt := s.rt
	start := rt.now()
	// Stage 1 first: its deltas and watermarks go out in this transaction and
	// reach stage 2 once it commits, in the next interval or a later one.
	s.shipDeltas()
	for _, c := range s.sources {
		c.prepare(start)
	}
	if err := s.prepareTasks(); err != nil {
		// A local store that cannot give back a running total will not get
		// better on retry; nothing of this interval is committed.
		if rt.eos {
			s.txn.End(ctx, kgo.TryAbort)
		}
		return fatalf(err, "the local state store failed")
	}
	if polled == 0 && s.produced.Load() == 0 && s.abortCause == "" {
		// Nothing read, nothing to write: end the transaction without committing.
		// (A commit without offsets costs 500 ms in franz-go: with no
		// TxnOffsetCommit response it cannot tell the broker supports KIP-447 and
		// waits for transaction markers as for brokers older than 2.5.)
		if rt.eos {
			if _, err := s.txn.End(ctx, kgo.TryAbort); err != nil {
				return classify(fmt.Errorf("ending empty transaction: %w", err))
			}
		}
		s.produceErr.Store(nil)
		return nil
	}
	defer s.produced.Store(0)
	rt.health.working(start)

	// Wait for every record to be acknowledged (or failed) before deciding: End
	// would flush too, but only after deciding to commit.
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing the interval's records (broker unreachable?): %w", err)
	}
	cause := s.abortCause
	s.abortCause = ""
	if p := s.produceErr.Swap(nil); p != nil && cause == "" {
		cause = "a record failed to produce: " + (*p).Error()
	}
	committed := cause == ""
	if rt.eos {
		try := kgo.TryCommit
		if cause != "" {
			try = kgo.TryAbort
		}
		var err error
		committed, err = s.txn.End(ctx, try)
		if err != nil {
			return classify(fmt.Errorf("ending transaction (its outcome is unknown; the next session restores what committed): %w", err))
		}
		if !committed && cause == "" {
			cause = "the group rebalanced or the commit of the input offsets failed"
		}
		if committed && rt.crashAfterCommit.Load() > 0 && rt.crashAfterCommit.Add(-1) >= 0 {
			// Tests: the process dies after the commit, before the stores have it.
			return errors.New("injected crash between commit and apply")
		}
		if p := s.produceErr.Swap(nil); p != nil && committed {
			// Flush returned, so every promise has run: this cannot happen. If it
			// did, the transaction committed without the record; say so loudly.
			rt.log.Error("a record failed after its transaction committed", "err", *p)
		}
	} else if cause != "" {
		// at_least_once: the records that did go out stay out; the session is
		// replaced and the next one reprocesses from the committed offsets.
		return fmt.Errorf("at_least_once interval failed: %s", cause)
	}
	if !committed {
		rt.metrics.aborted.Inc()
		n := rt.health.aborted(cause)
		rt.log.Warn("transaction aborted; its records will be processed again", "cause", cause, "aborted_in_a_row", n)
		for _, l := range s.lanes {
			l.comb.Reset(engine.NoTime)
		}
		s.deltas, s.deltaBytes = 0, 0
		for _, c := range s.sources {
			c.rollback()
		}
		for _, t := range s.tasks {
			if err := t.rollback(); err != nil {
				return fatalf(err, "the local state store failed")
			}
		}
		return nil
	}
	return s.applyCommit(ctx, start)
}

// applyCommit writes what a committed interval changed to the stores and hands it
// to the metrics view and the output callback.
func (s *session) applyCommit(ctx context.Context, start time.Time) error {
	rt := s.rt
	var (
		results []Result
		commits []Commit
		offsets = map[string]map[int32]kgo.EpochOffset{}
	)
	for p, c := range s.sources {
		if c.nextInput >= 0 {
			if offsets[rt.cfg.Stream.InputTopic] == nil {
				offsets[rt.cfg.Stream.InputTopic] = map[int32]kgo.EpochOffset{}
			}
			offsets[rt.cfg.Stream.InputTopic][p] = kgo.EpochOffset{Epoch: c.inputEpoch, Offset: c.nextInput}
		}
		c.commit(start)
	}
	stats := start.Sub(s.statsAt) >= 10*time.Second
	if stats {
		s.statsAt = start
	}
	for p, t := range s.tasks {
		if t.nextInput >= 0 {
			if offsets[rt.repartition] == nil {
				offsets[rt.repartition] = map[int32]kgo.EpochOffset{}
			}
			offsets[rt.repartition][p] = kgo.EpochOffset{Epoch: t.inputEpoch, Offset: t.nextInput}
		}
		r, c, err := t.committed()
		if err != nil {
			return fatalf(err, "the local state store failed")
		}
		results = append(results, r...)
		commits = append(commits, c)
		if stats {
			if st, err := t.store.Stats(); err == nil {
				rt.metrics.storeKeys.WithLabelValues(t.label).Set(float64(st.Keys))
				rt.metrics.storeBytes.WithLabelValues(t.label).Set(float64(st.LiveBytes))
				rt.metrics.storeMemory.WithLabelValues(t.label, "memtables").Set(float64(st.MemtableBytes))
				rt.metrics.storeMemory.WithLabelValues(t.label, "table_readers").Set(float64(st.TableReaderBytes))
			}
		}
		if err := t.retain(start); err != nil {
			return fatalf(err, "the local state store failed")
		}
	}
	if !rt.eos && len(offsets) > 0 {
		// The stores hold the changes: now the input offsets of the partitions with
		// a running task may move on (never those of records no task counted).
		var cerr error
		s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err == nil {
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
							err = e
						}
					}
				}
			}
			cerr = err
		})
		if cerr != nil {
			rt.log.Warn("committing offsets (the records will be processed again)", "err", cerr)
		}
	}
	rt.metrics.repartitioned.Add(float64(s.deltas))
	rt.metrics.repartitionBytes.Add(float64(s.deltaBytes))
	s.deltas, s.deltaBytes = 0, 0
	if rep := offsets[rt.repartition]; len(rep) > 0 {
		s.purge(rep, start)
	}
	rt.metrics.commits.Inc()
	done := rt.now()
	rt.health.committed(done)
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

// defaultPurgeEvery is how often a session deletes the repartition records its
// stage-2 tasks have committed past (Runtime.purgeEvery; tests shorten it).
const defaultPurgeEvery = 30 * time.Second

// purge deletes, at most every rt.purgeEvery and one request at a time, the
// repartition records before the offsets just committed, as Kafka Streams purges
// its repartition topics: they are read once, and the committed offsets never go
// back. It runs apart from the loop; a failure only leaves the records to the
// topic's retention (a day).
func (s *session) purge(committed map[int32]kgo.EpochOffset, now time.Time) {
	for p, o := range committed {
		s.purgeTo[p] = o.Offset
	}
	if now.Sub(s.purgedAt) < s.rt.purgeEvery || !s.purging.CompareAndSwap(false, true) {
		return
	}
	s.purgedAt = now
	offsets := kadm.Offsets{}
	for p, o := range s.purgeTo {
		offsets.AddOffset(s.rt.repartition, p, o, -1)
	}
	clear(s.purgeTo)
	s.wg.Go(func() {
		defer s.purging.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := s.rt.adm.DeleteRecords(ctx, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			s.rt.log.Debug("purging consumed repartition records", "err", err)
		}
	})
}
