package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/store"
)

// TestRecordsAtSizeLimit: an input record as large as the broker accepts, and a
// valid event whose dimension is huge, go to the dead-letter topic (the first cut
// to fit, with headers saying so) while the pipeline keeps committing and every
// window stays exact. Before, the copy exceeded what the producer and broker take
// (MESSAGE_TOO_LARGE): every transaction aborted on it forever (exactly_once) or
// the process exited (at_least_once).
func TestRecordsAtSizeLimit(t *testing.T) {
	for _, g := range []string{"exactly_once", "at_least_once"} {
		t.Run(g, func(t *testing.T) {
			addr := newCluster(t)
			cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
			cfg.Stream.ProcessingGuarantee = g
			tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
			rng := rand.New(rand.NewPCG(7, 7))
			// The test producer may send what the broker takes (1048588 bytes a batch).
			prod := client(t, addr, kgo.ProducerBatchMaxBytes(1048588))
			produce(t, prod, tr.batch(rng, 300))
			huge := bytes.Repeat([]byte("x"), 1048588-200) // not JSON; the largest value a batch holds
			longDim := reqJSON(tr.base+1000, strings.Repeat("e", 600<<10), 200, 3)
			produce(t, prod, []*kgo.Record{
				{Topic: input, Partition: 0, Value: huge},
				{Topic: input, Partition: 1, Value: longDim},
			})
			produce(t, prod, tr.batch(rng, 300))
			in := startInstance(t, cfg)
			defer in.stop(t)
			produce(t, prod, tr.closeAll())
			checkExact(t, addr, tr)

			dlq := consumeAll(t, addr, cfg.Stream.DeadLetterTopic, 2, 30*time.Second)
			if len(dlq) != 2 {
				t.Fatalf("%d dead letters, want 2", len(dlq))
			}
			for _, r := range dlq {
				switch header(r, HeaderReason) {
				case "not_json":
					if header(r, HeaderTruncated) != "value" || header(r, HeaderOriginalValue) != fmt.Sprint(len(huge)) ||
						len(r.Value) >= len(huge) || !bytes.HasPrefix(huge, r.Value) {
						t.Errorf("the oversized copy: %d bytes, headers %v", len(r.Value), r.Headers)
					}
				case "dimension_too_long":
					if !bytes.Equal(r.Value, longDim) || header(r, HeaderTruncated) != "" {
						t.Errorf("the event with a long dimension must be copied whole (it fits): %d bytes, headers %v", len(r.Value), r.Headers)
					}
				default:
					t.Errorf("unexpected dead letter: reason %q", header(r, HeaderReason))
				}
			}
			if n := testutil.ToFloat64(in.rt.metrics.truncated.WithLabelValues("dead_letter")); n != 1 {
				t.Errorf("kwindow_truncated_copies_total{topic=dead_letter} = %v, want 1", n)
			}
		})
	}
}

// TestTombstonesAndEmptyValues: null values (tombstones, as a compacted input
// topic has) and empty values are skipped and counted under their own reasons,
// not dead-lettered, so compaction does not raise the dead-letter alert.
func TestTombstonesAndEmptyValues(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(2, 3))
	prod := client(t, addr)
	rs := tr.batch(rng, 200)
	for p := int32(0); p < partitions; p++ {
		rs = append(rs,
			&kgo.Record{Topic: input, Partition: p, Key: []byte("k"), Value: nil},
			&kgo.Record{Topic: input, Partition: p, Key: []byte("k"), Value: []byte{}},
			&kgo.Record{Topic: input, Partition: p, Key: []byte("k2"), Value: nil})
	}
	produce(t, prod, append(rs, tr.batch(rng, 200)...))
	in := startInstance(t, cfg)
	defer in.stop(t)
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
	if dlq := consumeAll(t, addr, cfg.Stream.DeadLetterTopic, 1, 3*time.Second); len(dlq) != 0 {
		t.Errorf("%d dead letters for tombstones and empty values, want none", len(dlq))
	}
	skipped := func(r string) float64 { return testutil.ToFloat64(in.rt.metrics.skipped.WithLabelValues(r)) }
	if skipped("tombstone") != 2*partitions || skipped("empty") != partitions {
		t.Errorf("skipped: %v tombstones, %v empty, want %d and %d", skipped("tombstone"), skipped("empty"), 2*partitions, partitions)
	}
}

// TestProduceFailureAborts: a changelog record fails to produce while the
// transaction's records are being flushed. The interval must abort and be redone:
// the stores, the view and the output move on only with every record acknowledged.
// Checked the hard way: the state is then rebuilt from the changelog alone (local
// state deleted), and the windows it publishes must be exact. Before, a failure
// seen only during the commit's flush still committed the transaction without the
// record, and the store was written as if it had gone out.
func TestProduceFailureAborts(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, input), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	stateDir := filepath.Join(t.TempDir(), "state")
	cfg := instanceConfig(t, addr, "a", stateDir)
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(9, 9))
	prod := client(t, addr)
	a := startInstance(t, cfg)
	waitReady(t, a)
	produce(t, prod, tr.batch(rng, 500))
	waitProcessed(t, a, float64(tr.sent))

	// The broker refuses the next produce request that writes the changelog: the
	// records' promises fail while the interval's records are being flushed.
	fail := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: cfg.ChangelogTopic("endpoint_1m"), Err: kerr.InvalidRecord})
	produce(t, prod, tr.batch(rng, 500))
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	if err := fail.Wait(wctx, 1); err != nil {
		t.Fatalf("no changelog produce request reached the broker: %v", err)
	}
	waitProcessed(t, a, float64(tr.sent))
	if testutil.ToFloat64(a.rt.metrics.aborted) == 0 {
		t.Error("no transaction aborted although changelog records failed")
	}
	a.stop(t)
	b := startInstance(t, instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "fresh")))
	defer b.stop(t)
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
}

// TestCrashBetweenCommitAndApply: a transaction commits, and the session dies
// before its changes reach the stores (a process killed at that moment). The
// next session's stage-2 tasks find their stores one interval behind their
// changelogs and replay the tail; stage 1 reads its stream time back. Every window
// must still be published exactly once with its exact count.
func TestCrashBetweenCommitAndApply(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(3, 4))
	prod := client(t, addr)
	a := startInstanceWith(t, cfg, func(rt *Runtime) { rt.backoffMin = 10 * time.Millisecond })
	defer a.stop(t)
	waitReady(t, a)
	const crashes = 3
	for i := range crashes {
		a.rt.crashAfterCommit.Store(1)
		produce(t, prod, tr.batch(rng, 400))
		for deadline := time.Now().Add(30 * time.Second); a.rt.crashAfterCommit.Load() > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("crash %d not injected within 30s", i+1)
			}
		}
		waitReady(t, a)
	}
	produce(t, prod, tr.batch(rng, 400))
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
	if n := a.rt.crashAfterCommit.Load(); n > 0 {
		t.Errorf("%d crashes left uninjected", n)
	}
}

// TestRepartitionPurged: the repartition records stage 2 has committed past are
// deleted (DeleteRecords), as Kafka Streams purges its repartition topics, so the
// topic does not grow with the traffic. Before, a constant left from debugging
// made the purge run once per session: the embedded broker grew by 3.7 MiB/min at
// 40,000 events/s.
func TestRepartitionPurged(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(5, 6))
	prod := client(t, addr)
	a := startInstanceWith(t, cfg, func(rt *Runtime) { rt.purgeEvery = 100 * time.Millisecond })
	defer a.stop(t)
	waitReady(t, a)
	adm := kadm.NewClient(client(t, addr))
	for round := range 3 {
		produce(t, prod, tr.batch(rng, 500))
		waitProcessed(t, a, float64(tr.sent))
		// Every record before what stage 2 committed is gone, give or take what
		// came in the last purge interval.
		ends, err := adm.ListEndOffsets(context.Background(), cfg.RepartitionTopic())
		if err != nil {
			t.Fatal(err)
		}
		purged := false
		for deadline := time.Now().Add(20 * time.Second); !purged && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			starts, err := adm.ListStartOffsets(context.Background(), cfg.RepartitionTopic())
			if err != nil {
				t.Fatal(err)
			}
			purged = true
			ends.Each(func(e kadm.ListedOffset) {
				if s, _ := starts.Lookup(e.Topic, e.Partition); e.Offset > 0 && s.Offset < e.Offset-2 {
					purged = false
				}
			})
		}
		if !purged {
			starts, _ := adm.ListStartOffsets(context.Background(), cfg.RepartitionTopic())
			t.Fatalf("round %d: repartition records not purged: start offsets %v, end offsets %v", round, starts.Offsets(), ends.Offsets())
		}
	}
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
}

// TestRestoreWaitsForSlowBroker: restoration reads the changelog up to the end
// offset it took at the start, however long the broker takes. Before, 3 s without
// a record counted as "the end" (a compacted gap): with changelog fetches delayed
// 4 s the task went live with nothing restored, and its next commit moved the
// checkpoint past what it never read.
func TestRestoreWaitsForSlowBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, input), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "a"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(1, 9))
	prod := client(t, addr)
	for range 4 {
		produce(t, prod, tr.batch(rng, 500))
	}
	a := startInstance(t, cfg)
	waitProcessed(t, a, float64(tr.sent))
	// Stage 1 has processed every event; wait for stage 2 to commit windows to
	// the changelog too, or the next instance has nothing to restore (on a busy
	// machine stage 2 can trail by seconds).
	changelog := cfg.ChangelogTopic("endpoint_1m")
	adm := kadm.NewClient(client(t, addr))
	waitFor(t, "stage 2 to write the changelog", func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), changelog)
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return err == nil && n > 0
	})
	a.stop(t)

	// Every fetch of the changelog now waits 4 s, the first eight of them.
	id := c.TopicInfo(changelog).TopicID
	var delayed atomic.Int32
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, ft := range req.(*kmsg.FetchRequest).Topics {
			if (ft.Topic == changelog || ft.TopicID == id) && delayed.Add(1) <= 8 {
				c.SleepControl(func() { time.Sleep(4 * time.Second) })
				break
			}
		}
		return nil, nil, false
	})
	b := startInstance(t, instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "b")))
	defer b.stop(t)
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
	if delayed.Load() == 0 {
		t.Error("no changelog fetch was delayed: the test did not test")
	}
}

// TestPausedUntilRestored: franz-go can call the lost callback and then the new
// assignment's before the loop handles either (a session lost while the loop is
// blocked ending a transaction, as a broker restart does). The partition must stay
// paused until its task is restored. Before, closing the old task resumed it:
// records arrived for a partition still restoring, were skipped, and the next
// transaction committed their offsets, so they were never counted.
func TestPausedUntilRestored(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(4, 2))
	prod := client(t, addr)
	in := startInstance(t, cfg)
	defer in.stop(t)
	waitReady(t, in)
	produce(t, prod, tr.batch(rng, 300))
	waitProcessed(t, in, float64(tr.sent))
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() { // traffic all along
		defer close(sent)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				produce(t, prod, tr.batch(rng, 100))
			}
		}
	}()
	for range 5 {
		s := in.rt.cur.Load()
		m := map[string][]int32{input: {0, 1, 2}}
		s.onRevoked(context.Background(), s.cl, m) // "lost"
		s.onAssigned(context.Background(), s.cl, m)
		time.Sleep(300 * time.Millisecond)
	}
	close(stop)
	<-sent
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
}

// TestWebBeforeKafka is in the main package (serve_test.go); TestBrokerOutage and
// the multi-instance chaos test are in chaos_test.go.

// TestFatalErrors: errors no retry can fix end Run with a message that says what
// to do, instead of retrying forever: a missing input topic, and a second process
// running with the same instance_id (it fences the first).
func TestFatalErrors(t *testing.T) {
	t.Run("missing input topic", func(t *testing.T) {
		addr := newCluster(t)
		cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
		cfg.Stream.InputTopic = "no-such-topic"
		rt, err := New(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = runWithin(t, rt, 30*time.Second)
		var fatal *FatalError
		if !errors.As(err, &fatal) || !strings.Contains(err.Error(), `the input topic "no-such-topic" does not exist`) {
			t.Errorf("Run = %v, want a fatal error naming the missing topic", err)
		}
	})
	t.Run("changelog from before global windows", func(t *testing.T) {
		// The changelogs of a kwindow that aggregated per input partition carry
		// its stream-time record; their windows are partial results of keys that
		// now belong to other tasks, so they must not be restored.
		addr := newCluster(t)
		cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
		adm := kadm.NewClient(client(t, addr))
		changelog := cfg.ChangelogTopic(cfg.Aggregations[0].Name)
		if _, err := adm.CreateTopic(context.Background(), partitions, 1, nil, changelog); err != nil {
			t.Fatal(err)
		}
		produce(t, client(t, addr), []*kgo.Record{{Topic: changelog, Partition: 0, Key: []byte("\x00streamtime"), Value: []byte{2}}})
		rt, err := New(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = runWithin(t, rt, 30*time.Second)
		var fatal *FatalError
		if !errors.As(err, &fatal) || !strings.Contains(err.Error(), "new stream.application_id") {
			t.Errorf("Run = %v, want a fatal error asking for a new application_id", err)
		}
	})
	t.Run("open hopping window from before panes", func(t *testing.T) {
		// A kwindow that stored every open hopping window: stage 2 now keeps
		// open hopping windows as panes, and would take a stored one for a
		// closed, final window.
		addr := newCluster(t)
		cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
		hop, err := config.Parse("test.yml", []byte(`
aggregations:
  - {name: hop, group_by: [endpoint], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s}
`))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Aggregations = hop.Aggregations
		adm := kadm.NewClient(client(t, addr))
		changelog := cfg.ChangelogTopic("hop")
		if _, err := adm.CreateTopic(context.Background(), partitions, 1, nil, changelog); err != nil {
			t.Fatal(err)
		}
		start := time.Now().UnixMilli() / 60_000 * 60_000
		a := aggregate.New(*cfg.Sketch.Schema, false)
		a.Count = 1
		v, err := aggregate.Value{End: start + 300_000, Last: start, Agg: a}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		key := store.Key{Agg: "hop", Group: store.AppendGroup(nil, []byte("/a")), Start: start}.Append(nil)
		produce(t, client(t, addr), []*kgo.Record{{Topic: changelog, Partition: 0, Key: key, Value: v}})
		rt, err := New(context.Background(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = runWithin(t, rt, 30*time.Second)
		var fatal *FatalError
		if !errors.As(err, &fatal) || !strings.Contains(err.Error(), "an open hop window") || !strings.Contains(err.Error(), "new stream.application_id") {
			t.Errorf("Run = %v, want a fatal error naming the window and asking for a new application_id", err)
		}
	})
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("unreadable repartition record, threads=%d", threads), func(t *testing.T) {
			// Only kwindow writes the repartition topic: a record stage 2 cannot
			// read ends the runtime, whichever lane met it, rather than being
			// skipped and its counts lost.
			addr := newCluster(t)
			cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
			cfg.Stream.Threads = threads
			adm := kadm.NewClient(client(t, addr))
			if _, err := adm.CreateTopic(context.Background(), partitions, 1, nil, cfg.RepartitionTopic()); err != nil {
				t.Fatal(err)
			}
			produce(t, client(t, addr), []*kgo.Record{{Topic: cfg.RepartitionTopic(), Partition: partitions - 1, Key: []byte("?"), Value: []byte("not a delta")}})
			rt, err := New(context.Background(), cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = runWithin(t, rt, 30*time.Second)
			var fatal *FatalError
			want := fmt.Sprintf("repartition partition %d offset 0", partitions-1)
			if !errors.As(err, &fatal) || !strings.Contains(err.Error(), "a repartition record cannot be read") || !strings.Contains(err.Error(), want) {
				t.Errorf("Run = %v, want a fatal error naming %s", err, want)
			}
		})
	}
	t.Run("instance_id shared", func(t *testing.T) {
		addr := newCluster(t)
		a := startInstance(t, instanceConfig(t, addr, "same", filepath.Join(t.TempDir(), "a")))
		waitReady(t, a)
		produce(t, client(t, addr), (&traffic{counts: map[string]uint64{}, base: time.Now().UnixMilli() - 3600_000}).batch(rand.New(rand.NewPCG(1, 1)), 100))
		b := startInstance(t, instanceConfig(t, addr, "same", filepath.Join(t.TempDir(), "b")))
		defer b.stop(t)
		traffic := &traffic{counts: map[string]uint64{}, base: time.Now().UnixMilli() - 3600_000}
		rng := rand.New(rand.NewPCG(2, 2))
		prod := client(t, addr)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			produce(t, prod, traffic.batch(rng, 50)) // both have work, so both commit
			select {
			case err := <-a.done:
				var fatal *FatalError
				if !errors.As(err, &fatal) || !strings.Contains(err.Error(), "instance_id") {
					t.Errorf("the fenced instance ended with %v, want a fatal error about instance_id", err)
				}
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		a.cancel()
		t.Fatal("two processes with one instance_id both kept running for 60s")
	})
}

func runWithin(t *testing.T, rt *Runtime, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := rt.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run still running after %v", d)
	}
	return err
}

// TestReassignedWhileRestoring: a partition is revoked and assigned again while
// its restoration is still running (restorations are slow here: changelog fetches
// wait). The canceled restoration's result must not be taken for the new one's.
// Before, it was: the partition got a nil task and the next commit crashed the
// process.
func TestReassignedWhileRestoring(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, input), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(5, 5))
	prod := client(t, addr)
	produce(t, prod, tr.batch(rng, 600))
	a := startInstance(t, instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "a")))
	waitProcessed(t, a, float64(tr.sent))
	a.stop(t)

	// From now on every changelog fetch waits 300 ms, so each restoration takes a while.
	var delayed atomic.Int32
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, ft := range req.(*kmsg.FetchRequest).Topics {
			if ft.Topic != input && (ft.Topic != "" || ft.TopicID != c.TopicInfo(input).TopicID) {
				delayed.Add(1)
				c.SleepControl(func() { time.Sleep(300 * time.Millisecond) })
				break
			}
		}
		return nil, nil, false
	})
	b := startInstance(t, instanceConfig(t, addr, "b", filepath.Join(t.TempDir(), "b")))
	defer b.stop(t)
	for range 5 {
		waitFor(t, "a session", func() bool { return b.rt.cur.Load() != nil })
		s := b.rt.cur.Load()
		m := map[string][]int32{input: {0, 1, 2}}
		s.onRevoked(context.Background(), s.cl, m)
		s.onAssigned(context.Background(), s.cl, m)
		produce(t, prod, tr.batch(rng, 100))
		time.Sleep(150 * time.Millisecond) // shorter than a restoration
	}
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
	if delayed.Load() == 0 {
		t.Error("no changelog fetch was delayed: the test did not test")
	}
	select {
	case err := <-b.done:
		b.done <- err
		t.Fatalf("the instance stopped: %v", err)
	default:
	}
}

// TestEventTimeBounds: with no timestamp field, events take their Kafka record
// time, and that is bounded too: record times of 0, before 2000, negative, in the
// year 2300 and at MaxInt64 go to the dead-letter topic as bad_timestamp, and the
// windows of the valid events stay exact. Before, the record time was used
// unchecked: MaxInt64 moved stream time to the end of time (every window closed
// at once, and hopping assignment looped forever).
func TestEventTimeBounds(t *testing.T) {
	addr := newCluster(t)
	yml := fmt.Sprintf(`
events:
  value: {field: latency_ms, unit: ms}
  status: {field: status}
  dimensions: [{name: endpoint}, {name: status}]
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.99]}
  - {name: status_5m, group_by: [endpoint, status], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s, measures: [count]}
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: app, instance_id: a, input_topic: requests, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 3s}
state: {dir: %q}
`, addr, t.TempDir())
	cfg, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	base := (time.Now().UnixMilli() - 3600_000) / minute * minute
	ev := func(p int32, ms int64, endpoint string) *kgo.Record {
		return &kgo.Record{Topic: input, Partition: p, Timestamp: time.UnixMilli(ms),
			Value: fmt.Appendf(nil, `{"endpoint":%q,"status":200,"latency_ms":5}`, endpoint)}
	}
	want := map[string]uint64{}
	var rs []*kgo.Record
	for i := range 300 {
		p := int32(i % partitions)
		ms := base + int64(i)*300
		rs = append(rs, ev(p, ms, crashEndpoints[p]))
		want[outputID(crashEndpoints[p], ms/minute*minute)]++
		if i == 100 { // absurd record times, on every partition
			for q := range int32(partitions) {
				for _, bad := range []int64{0, 1, -5, 946684799999, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), math.MaxInt64} {
					rs = append(rs, ev(q, bad, crashEndpoints[q]))
				}
			}
		}
	}
	for p := range int32(partitions) { // close every window
		rs = append(rs, ev(p, base+30*minute, crashEndpoints[p]))
	}
	produce(t, client(t, addr), rs)
	in := startInstance(t, cfg)
	defer in.stop(t)
	got := published(t, addr, cfg.Stream.OutputTopic, len(want))
	for id, n := range want {
		if c := got[id]; len(c) != 1 || c[0] != n {
			t.Errorf("window %s published as %v, want exactly once with %d", id, c, n)
		}
	}
	dlq := consumeAll(t, addr, cfg.Stream.DeadLetterTopic, 6*partitions, 30*time.Second)
	if len(dlq) != 6*partitions {
		t.Errorf("%d dead letters, want %d", len(dlq), 6*partitions)
	}
	for _, r := range dlq {
		if header(r, HeaderReason) != "bad_timestamp" {
			t.Errorf("dead letter with reason %q, error %q: want bad_timestamp", header(r, HeaderReason), header(r, HeaderError))
		}
	}
}
