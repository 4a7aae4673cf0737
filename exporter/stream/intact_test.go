package stream

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// TestRecordsIntactAcrossAborts: a task's changelog records, their keys and the
// store batch share memory that the next transaction reuses once this one has
// ended, and the window values it hands to the Sink are never written over.
// Changelog produce requests fail three times here, each failure aborting its
// transaction, which is then redone in the same memory. Every changelog record
// that committed must still be one change, whole: its key parses, its value
// decodes and is that key's window or running total, and each key's last running
// total counts every event of the key; every value the Sink was handed must read
// as it did then; and the state rebuilt from the changelogs alone must publish
// every window exactly.
func TestRecordsIntactAcrossAborts(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, input), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	changelog := cfg.ChangelogTopic("endpoint_1m")
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(3, 4))
	prod := client(t, addr)
	sink := &keepingSink{}
	a := startInstanceOpts(t, cfg, Options{Sink: sink}, nil)
	waitReady(t, a)
	produce(t, prod, tr.batch(rng, 500))
	waitProcessed(t, a, float64(tr.sent))

	fail := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: changelog, Err: kerr.InvalidRecord, Count: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; fail.Hits() < 3; i++ {
		if ctx.Err() != nil || i == 100 {
			t.Fatalf("%d changelog produce requests failed, want 3", fail.Hits())
		}
		produce(t, prod, tr.batch(rng, 200))
		waitProcessed(t, a, float64(tr.sent))
	}
	produce(t, prod, tr.batch(rng, 500)) // committed after the last abort
	waitProcessed(t, a, float64(tr.sent))
	if n := testutil.ToFloat64(a.rt.metrics.aborted); n < 3 {
		t.Errorf("%v transactions aborted, want at least 3", n)
	}
	a.stop(t)

	sink.mu.Lock()
	for i, k := range sink.kept {
		if !bytes.Equal(k.got, k.then) {
			t.Fatalf("value %d handed to the Sink was written over: %x, was %x", i, k.got, k.then)
		}
	}
	if len(sink.kept) == 0 {
		t.Error("the Sink was handed no window")
	}
	sink.mu.Unlock()

	totals := map[string]uint64{} // endpoint -> events
	for id, n := range tr.counts {
		totals[strings.Split(strings.TrimPrefix(id, "endpoint_1m|endpoint="), "|")[0]] += n
	}
	last := map[string]uint64{}
	records := readToEnd(t, addr, changelog)
	var logBytes int
	for _, r := range records {
		logBytes += len(r.Key) + len(r.Value)
	}
	// The changelog metrics count the committed records only, not the aborted.
	if n := testutil.ToFloat64(a.rt.metrics.changelogRecords.WithLabelValues("endpoint_1m")); n != float64(len(records)) {
		t.Errorf("kwindow_changelog_records_total = %v, the changelog holds %d committed records", n, len(records))
	}
	if n := testutil.ToFloat64(a.rt.metrics.changelogBytes.WithLabelValues("endpoint_1m")); n != float64(logBytes) {
		t.Errorf("kwindow_changelog_bytes_total = %v, the changelog's committed records hold %d bytes", n, logBytes)
	}
	for _, r := range records {
		if bytes.Equal(r.Key, metaKey) {
			continue
		}
		k, err := store.ParseKey(r.Key)
		if err != nil || k.Agg != "endpoint_1m" {
			t.Fatalf("changelog record at %d/%d: key %q: %v", r.Partition, r.Offset, r.Key, err)
		}
		var v aggregate.Value
		if err := v.UnmarshalBinary(r.Value); err != nil {
			t.Fatalf("changelog record at %d/%d: value %x: %v", r.Partition, r.Offset, r.Value, err)
		}
		// A running total is stored as a base ending where the key's windows
		// it leaves out begin (a minute boundary), empty for a key new in the
		// transaction.
		if k.Start == engine.TotalStart {
			if v.End != engine.NoTime && v.End%minute != 0 {
				t.Fatalf("changelog record at %d/%d: a running total's base ending at %d", r.Partition, r.Offset, v.End)
			}
			continue
		}
		if v.End != k.Start+minute || v.Agg.Count == 0 {
			t.Fatalf("changelog record at %d/%d: key of window %d holds a value ending at %d with %d events", r.Partition, r.Offset, k.Start, v.End, v.Agg.Count)
		}
	}
	for id, v := range changelogTotals(t, records) {
		g, _ := store.SplitGroup([]byte(strings.TrimPrefix(id, "endpoint_1m|")))
		last[string(g[0])] = v.Agg.Count
	}
	for ep, n := range totals {
		if last[ep] != n {
			t.Errorf("running total of %s in the changelog: %d events, want %d", ep, last[ep], n)
		}
	}

	b := startInstance(t, instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "fresh")))
	defer b.stop(t)
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
}

// keepingSink keeps every window value a commit hands it, with a copy taken then.
type keepingSink struct {
	mu   sync.Mutex
	kept []struct{ got, then []byte }
}

func (s *keepingSink) Active(int32, int64, []engine.Change) {}
func (s *keepingSink) Inactive(int32)                       {}

func (s *keepingSink) Committed(commits []Commit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range commits {
		for _, w := range c.Windows {
			s.kept = append(s.kept, struct{ got, then []byte }{w.Value, bytes.Clone(w.Value)})
		}
	}
}

// TestResetLeavesPendingRecords: a record whose promise has not run when its
// transaction ends (one the producer failed before buffering it, whose promise
// runs apart) keeps its memory: the next transaction's records and keys go
// elsewhere.
func TestResetLeavesPendingRecords(t *testing.T) {
	f := func(pending bool) {
		tk := &task{}
		key := tk.batch.Put(store.Key{Agg: "a", Start: 1}, []byte("v1"))
		r := tk.record()
		*r = kgo.Record{Key: key, Value: []byte("v1")}
		if pending {
			tk.pending.Add(1)
		}
		tk.reset()
		key2 := tk.batch.Put(store.Key{Agg: "b", Start: 2}, []byte("v2"))
		r2 := tk.record()
		*r2 = kgo.Record{Key: key2, Value: []byte("v2")}
		reused := r2 == r
		if pending && (reused || !bytes.Equal(r.Key, store.Key{Agg: "a", Start: 1}.Append(nil))) {
			t.Errorf("a pending record was reused: %q, key %x", r.Value, r.Key)
		}
		if !pending && !reused {
			t.Error("the records of an ended transaction were not reused")
		}
	}
	f(true)
	f(false)
}
