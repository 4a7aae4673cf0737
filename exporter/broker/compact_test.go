package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// createCompacted creates topic with cleanup.policy=compact, as kwindow creates
// its changelogs.
func createCompacted(t *testing.T, b *Broker, topic string, partitions int32) {
	t.Helper()
	policy := "compact"
	_, err := kadm.NewClient(client(t, b)).CreateTopic(testContext(t), partitions, -1,
		map[string]*string{"cleanup.policy": &policy}, topic)
	if err != nil {
		t.Fatal(err)
	}
}

// txnClient is a transactional producer with its own transactional ID.
func txnClient(t *testing.T, b *Broker, id string) *kgo.Client {
	t.Helper()
	return client(t, b, kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(time.Minute))
}

func rec(topic string, p int32, key, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Key: []byte(key), Value: []byte(value)}
}

// commitTxn writes each batch with its own produce request in one transaction
// and commits it.
func commitTxn(ctx context.Context, cl *kgo.Client, batches ...[]*kgo.Record) error {
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	for _, b := range batches {
		if err := cl.ProduceSync(ctx, b...).FirstErr(); err != nil {
			_ = cl.EndTransaction(ctx, kgo.TryAbort)
			return err
		}
	}
	return cl.EndTransaction(ctx, kgo.TryCommit)
}

// latest reads partitions 0..n-1 of topic as a read_committed consumer would, to
// their end, and returns each key's last value.
func latest(t *testing.T, b *Broker, topic string, n int32) map[string]string {
	t.Helper()
	const end = "\x00end"
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var marks []*kgo.Record
	for p := range n {
		marks = append(marks, rec(topic, p, end, ""))
	}
	if err := cl.ProduceSync(testContext(t), marks...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx := testContext(t)
	got := map[string]string{}
	for ended := int32(0); ended < n; {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading %s: %v (read %v so far)", topic, err, got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case string(r.Key) == end:
				ended++
			case !strings.HasPrefix(string(r.Key), "\x00"): // other helpers' marks
				got[string(r.Key)] = string(r.Value)
			}
		})
	}
	return got
}

// count is the number of records partition p of topic holds, with those of
// aborted transactions (read_uncommitted).
func count(t *testing.T, b *Broker, topic string, p int32) int {
	t.Helper()
	const end = "\x00count"
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(testContext(t), rec(topic, p, end, "")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := client(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	ctx := testContext(t)
	for n := 0; ; {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		for _, r := range fs.Records() {
			if string(r.Key) == end {
				return n
			}
			n++
		}
	}
}

// size is the bytes the broker holds for a partition.
func size(b *Broker, topic string, p int32) int64 { return b.c.PartitionInfo(topic, p).NumBytes }

// shrinks waits up to timeout for the partition to hold fewer than from bytes: a
// compaction removed records. It returns the new size, or from if none did.
func shrinks(b *Broker, topic string, p int32, from int64, timeout time.Duration) int64 {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n := size(b, topic, p); n < from {
			return n
		}
	}
	return from
}

// TestCompactKeepsCommittedRecords is the defect of issue 7, item 0a: kfake's own
// log cleaner compacts the records of an open transaction as if they were
// committed. A committed record K=k1 was dropped as superseded by K=k2 of a
// transaction still open; the producer died and its restart fenced it, aborting
// K=k2, and K's committed value was gone. The changelog of a crashed kwindow
// instance is exactly that.
func TestCompactKeepsCommittedRecords(t *testing.T) {
	const (
		topic = "app-agg-changelog"
		every = 50 * time.Millisecond // compaction interval, shortened
	)
	b := start(t, Options{Partitions: 1, CompactInterval: every})
	createCompacted(t, b, topic, 1)
	ctx := testContext(t)

	a := txnClient(t, b, "instance-a")
	if err := commitTxn(ctx, a, []*kgo.Record{rec(topic, 0, "C", "c1"), rec(topic, 0, "K", "k1")}); err != nil {
		t.Fatal(err)
	}
	if err := commitTxn(ctx, a, []*kgo.Record{rec(topic, 0, "C", "c2")}); err != nil {
		t.Fatal(err)
	}

	// Instance b writes K=k2 and another batch in a transaction, and dies.
	dying := txnClient(t, b, "instance-b")
	if err := dying.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*kgo.Record{rec(topic, 0, "K", "k2"), rec(topic, 0, "F", "f")} {
		if err := dying.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// kfake's cleaner, every 50ms, would compact now (C=c1 is superseded by a
	// committed record: the topic shrinks); kwindow's must wait.
	before := size(b, topic, 0)
	if n := shrinks(b, topic, 0, before, 20*every); n < before {
		t.Logf("compacted with a transaction open: %d bytes -> %d", before, n)
	}

	// Its restart fences it: the open transaction aborts. The restarted instance
	// commits a new transaction.
	restarted := txnClient(t, b, "instance-b")
	if err := commitTxn(ctx, restarted, []*kgo.Record{rec(topic, 0, "X", "x")}); err != nil {
		t.Fatal(err)
	}
	if err := commitTxn(ctx, a, []*kgo.Record{rec(topic, 0, "C", "c3")}); err != nil {
		t.Fatal(err)
	}
	// A compaction after the abort: C=c1 and C=c2 go.
	before = size(b, topic, 0)
	if n := shrinks(b, topic, 0, before, 100*every); n == before {
		t.Fatalf("no compaction within %v of the abort (%d bytes)", 100*every, n)
	}

	got := latest(t, b, topic, 1)
	want := map[string]string{"C": "c3", "K": "k1", "X": "x"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s: read_committed reads %q, want %q (the committed value)", k, got[k], v)
		}
	}
	if v, ok := got["F"]; ok {
		t.Errorf("key F of the aborted transaction reads %q", v)
	}
}
