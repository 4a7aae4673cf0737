package broker

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/internal/testtool"
)

// A broker that stops with a transaction open and comes back from its data
// directory as after a crash (no snapshots, no session state) aborts that
// transaction: the producer's EndTransaction(commit) sent after the restart
// must fail, not report a commit, and read_committed readers must not see the
// transaction's records. Before the fix, the restored producer still
// remembered that its last transaction had committed, and a commit retried
// with the old epoch was answered as a duplicate of it: success, records gone.
func TestCrashAbortedTransactionIsNotCommitted(t *testing.T) {
	const topic = "changelog"
	addr := testtool.FreeAddr(t)
	r := &restarter{t: t}
	r.o = Options{Addr: addr, DataDir: filepath.Join(t.TempDir(), "broker"), Partitions: 1, Logf: r.logf}
	r.start()
	defer r.close()
	createCompacted(t, r.broker(), topic, 1)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("p"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(time.Minute), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txn := func(value string) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, rec(topic, 0, "k", value)).FirstErr(); err != nil {
			return err
		}
		return nil
	}
	if err := txn("1"); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := txn("2"); err != nil {
		t.Fatal(err)
	}
	r.close()
	// What a crash leaves: the logs, without the state a clean stop saves.
	err = filepath.WalkDir(r.o.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (d.Name() == "snapshot.json" || d.Name() == "session_state.json") {
			err = os.Remove(p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r.start()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Error("EndTransaction(commit) succeeded for a transaction the restart aborted")
	}
	// One more transaction, from a new producer (fencing the old one), so
	// that the log ends in a committed record for the reader to reach.
	cl2, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("p"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(time.Minute), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	cl = cl2
	if err := txn("3"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, rec(topic, 0, "z", "1")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got, _ := readCommitted(t, addr, topic, 1)
	if got["k"] != 3 || got["z"] != 1 {
		t.Errorf("read_committed: k = %d, z = %d; want 3 and 1", got["k"], got["z"])
	}
}
