package broker

import (
	"context"
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
