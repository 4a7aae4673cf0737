package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A producer whose aborted transaction's marker a compaction removed (it had no
// other surviving record then) keeps its later committed records visible.
//
// It did not with kfake as released (v0.0.0-20260918054303-01f206a7e32c, the newest
// the module proxy serves), which go.mod therefore replaces with the patched copy
// in third_party/kfake (see its README): compaction dropped the control batches of a producer
// with no surviving data record (A's commit and abort markers here) but keeps
// the partition's aborted-transaction entry {A, offset of X}, which fetch
// responses kept listing. A read_committed client (franz-go, like Kafka's Java
// consumer) then skips every batch of A from X's offset on until it reads A's
// abort marker, which no longer exists: Y, committed later, is never seen.
// Real Kafka's cleaner drops an aborted transaction from the transaction index
// when it removes its marker.
func TestCompactKeepsRecordsAfterAbortMarker(t *testing.T) {
	const topic = "changelog"
	b := start(t, Options{Partitions: 1, CompactInterval: time.Hour})
	createCompacted(t, b, topic, 1)
	ctx := context.Background()
	a, bb, c := txnClient(t, b, "a"), txnClient(t, b, "b"), txnClient(t, b, "c")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(commitTxn(ctx, c, []*kgo.Record{rec(topic, 0, "Z", "8")}))
	must(commitTxn(ctx, a, []*kgo.Record{rec(topic, 0, "K", "0")}))
	must(a.BeginTransaction())
	must(a.ProduceSync(ctx, rec(topic, 0, "X", "9")).FirstErr())
	must(a.EndTransaction(ctx, kgo.TryAbort))
	must(commitTxn(ctx, bb, []*kgo.Record{rec(topic, 0, "K", "1")}))
	if ok, err := b.Compact(ctx); !ok || err != nil {
		t.Fatalf("compact: %v %v", ok, err)
	}
	must(commitTxn(ctx, a, []*kgo.Record{rec(topic, 0, "Y", "2")}))
	must(commitTxn(ctx, bb, []*kgo.Record{rec(topic, 0, "W", "3")}))
	got, _ := readCommitted(t, b.Addr(), topic, 1)
	t.Logf("read_committed: %v", got)
	if _, ok := got["Y"]; !ok {
		t.Errorf("Y (committed by a after its abort marker was compacted away) is not visible: %v", got)
	}
}

// A producer that keeps rewriting the same keys (a changelog) leaves, after
// compaction, only the markers of transactions whose records survive: memory
// stays bounded however many transactions commit. Upstream kfake kept every
// marker of a producer that had any surviving record, so a partition grew by
// about 78 B per transaction for good (1 → 1,001 → 2,001 transactions:
// 148 → 78,148 → 156,148 B).
func TestCompactBoundsMarkers(t *testing.T) {
	const topic = "changelog"
	b := start(t, Options{Partitions: 1, CompactInterval: time.Hour})
	createCompacted(t, b, topic, 1)
	ctx := testContext(t)
	cl := txnClient(t, b, "a")
	size := func(txns int) int64 {
		t.Helper()
		for i := range txns {
			if err := commitTxn(ctx, cl, []*kgo.Record{rec(topic, 0, "k", fmt.Sprint(i))}); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := b.Compact(ctx); err != nil || !ok {
			t.Fatalf("compaction: %v, %v", ok, err)
		}
		return b.k.c.PartitionInfos(topic)[0].NumBytes
	}
	small := size(10)
	large := size(1000)
	if large > small+1024 {
		t.Errorf("compacted partition holds %d B after 1,010 transactions, %d B after 10: markers pile up", large, small)
	}
	if got := latest(t, b, topic, 1)["k"]; got != "999" {
		t.Errorf("k = %q after compaction, want the last committed 999", got)
	}
}
