package broker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/internal/testtool"
)

// restarter runs the broker on a DataDir and a fixed address, so that clients
// find it again after each restart.
type restarter struct {
	t    *testing.T
	o    Options
	mu   sync.Mutex
	b    *Broker
	logs []string
}

func (r *restarter) start() {
	r.t.Helper()
	var err error
	for range 100 { // the port may take a moment to be free again
		var b *Broker
		if b, err = Start(r.o); err == nil {
			r.mu.Lock()
			r.b = b
			r.mu.Unlock()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatal(err)
}

func (r *restarter) broker() *Broker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b
}

func (r *restarter) close() {
	r.mu.Lock()
	b := r.b
	r.b = nil
	r.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

func (r *restarter) logf(format string, args ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// producerState is what one transactional producer knows of its keys: the last
// value it saw commit, and the values of later transactions whose end it does
// not know (EndTransaction failed: either outcome is possible).
type producerState struct {
	committed map[string]int
	unknown   map[string][]int
	commits   int
	failures  int
}

// A broker restarted on its DataDir, again and again while transactional
// producers commit to a compacted topic and the compactor runs every few
// milliseconds, still shows every key's last committed value to a
// read_committed reader.
func TestRestartKeepsCommittedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the broker for ~12s")
	}
	iterations := 1
	if s := os.Getenv("KWINDOW_RESTART_ITERATIONS"); s != "" {
		iterations, _ = strconv.Atoi(s)
	}
	for i := range iterations {
		t.Run(fmt.Sprint(i), func(t *testing.T) { testRestart(t, uint64(i)) })
	}
}

func testRestart(t *testing.T, seed uint64) {
	const (
		topic      = "changelog"
		partitions = 2
		producers  = 4
		keys       = 8 // per producer, spread over the partitions
		restarts   = 10
	)
	addr := testtool.FreeAddr(t)
	r := &restarter{t: t}
	r.o = Options{Addr: addr, DataDir: filepath.Join(t.TempDir(), "broker"), Partitions: partitions,
		CompactInterval: 20 * time.Millisecond, Logf: r.logf}
	r.start()
	defer r.close()
	createCompacted(t, r.broker(), topic, partitions)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	states := make([]*producerState, producers)
	var wg sync.WaitGroup
	for i := range producers {
		st := &producerState{committed: map[string]int{}, unknown: map[string][]int{}}
		states[i] = st
		wg.Go(func() { runProducer(ctx, t, addr, topic, i, keys, partitions, st, seed) })
	}

	rng := rand.New(rand.NewPCG(seed, 7))
	for range restarts {
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		r.close()
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		r.start()
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()

	check := func(when string) {
		t.Helper()
		got, offsets := readCommitted(t, addr, topic, partitions)
		var bad []string
		for i, st := range states {
			for k := range keys {
				key := fmt.Sprintf("p%d-k%d", i, k)
				allowed := append([]int{st.committed[key]}, st.unknown[key]...)
				v, ok := got[key]
				if !ok && st.committed[key] == 0 && len(st.unknown[key]) == 0 {
					continue // never written
				}
				if !ok || !slices.Contains(allowed, v) {
					bad = append(bad, fmt.Sprintf("%s (partition %d): read %d (present %v, offset %d), want one of %v",
						key, k%partitions, v, ok, offsets[key], allowed))
				}
			}
		}
		if len(bad) > 0 || t.Failed() {
			t.Errorf("%s: %d keys wrong:\n%s", when, len(bad), strings.Join(bad, "\n"))
			for p := range int32(partitions) {
				t.Logf("partition %d: %+v", p, r.broker().c.PartitionInfo(topic, p))
			}
			if dump := os.Getenv("KWINDOW_RESTART_DUMP"); dump != "" {
				dumpLog(t, addr, topic, partitions, fmt.Sprintf("%s-%d-%s", dump, seed, strings.ReplaceAll(when, " ", "-")), r.o.DataDir)
			}
		}
	}
	check("after the restarts")
	r.close()
	r.start()
	check("after one more restart")

	var commits, failures int
	for _, st := range states {
		commits += st.commits
		failures += st.failures
	}
	st := r.broker().CompactionStats()
	t.Logf("%d transactions committed, %d ended unknown; %d restarts; compactions since the last restart %d; %d broker warnings",
		commits, failures, restarts+1, st.Compactions, len(r.logs))
	if t.Failed() {
		for _, l := range r.logs {
			t.Log(l)
		}
	}
}

// runProducer commits, one transaction after another, the next value of each of
// its keys (half in each of two produce requests, a few ms apart), until ctx is
// done and its last transaction committed.
func runProducer(ctx context.Context, t *testing.T, addr, topic string, id, keys, partitions int, st *producerState, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	newClient := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(fmt.Sprintf("p%d", id)),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(time.Minute),
			kgo.RetryTimeout(5*time.Second))
		if err != nil {
			t.Error(err)
		}
		return cl
	}
	cl := newClient()
	defer func() { cl.Close() }()
	// A producer whose last transaction failed commits one more: the new
	// client's InitProducerID aborts what the old one left open, which would
	// otherwise hold the last stable offset back for the transaction timeout.
	failed := false
	for seq := 1; ctx.Err() == nil || failed && seq < 1000; seq++ {
		var first, second []*kgo.Record
		for k := range keys {
			r := rec(topic, int32(k%partitions), fmt.Sprintf("p%d-k%d", id, k), strconv.Itoa(seq))
			if k < keys/2 {
				first = append(first, r)
			} else {
				second = append(second, r)
			}
		}
		tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cl.BeginTransaction()
		produced := err == nil
		if err == nil {
			err = cl.ProduceSync(tctx, first...).FirstErr()
		}
		if err == nil {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			err = cl.ProduceSync(tctx, second...).FirstErr()
		}
		if err == nil {
			err = cl.EndTransaction(tctx, kgo.TryCommit)
			if err == nil {
				st.commits++
				for _, r := range append(first, second...) {
					st.committed[string(r.Key)] = seq
					delete(st.unknown, string(r.Key))
				}
			}
		}
		failed = err != nil
		if err != nil {
			st.failures++
			if produced {
				for _, r := range append(first, second...) {
					st.unknown[string(r.Key)] = append(st.unknown[string(r.Key)], seq)
				}
			}
			// Start over with a new client: its InitProducerID fences the old
			// producer and aborts whatever it left open.
			cl.Close()
			cl = newClient()
		}
		cancel()
		time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond)
	}
}

// readCommitted reads topic read_committed to its end and returns each key's
// last value and its offset.
func readCommitted(t *testing.T, addr, topic string, partitions int) (map[string]int, map[string]int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	got, offsets := map[string]int{}, map[string]int64{}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Errorf("reading %s: not read to the end (high watermarks %v; last stable offset stuck?): %v", topic, left, ctx.Err())
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			v, err := strconv.Atoi(string(r.Value))
			if err != nil {
				t.Errorf("%s offset %d: value %q", topic, r.Offset, r.Value)
			}
			got[string(r.Key)], offsets[string(r.Key)] = v, r.Offset
		})
	}
	return got, offsets
}

// dumpLog writes every record of topic, read_uncommitted, with its producer
// and offset, and the broker's partition snapshots, to file.
func dumpLog(t *testing.T, addr, topic string, partitions int, file, dataDir string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			fmt.Fprintf(&b, "p%d off=%d pid=%d epoch=%d ctrl=%v txn=%v key=%q value=%q\n", r.Partition, r.Offset, r.ProducerID,
				r.ProducerEpoch, r.Attrs.IsControl(), r.Attrs.IsTransactional(), r.Key, r.Value)
		})
	}
	filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".log")) {
			raw, _ := os.ReadFile(path)
			fmt.Fprintf(&b, "== %s\n%s\n", path, raw)
		}
		return nil
	})
	os.WriteFile(file, []byte(b.String()), 0o644)
	t.Logf("dumped to %s", file)
}
