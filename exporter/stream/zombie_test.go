package stream

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// TestRestoreWaitsForOpenTransaction: a partition's previous owner may still be
// ending a transaction when the group gives the partition to another member (a
// member dropped under load while committing). Its changelog records are past
// the last stable offset until it commits, and its offsets, once it does, are
// where the consumer resumes. The new owner must restore only after it has
// ended: otherwise its state lacks the transaction's changes while its input
// resumes after them (deltas lost, windows published twice; TestChaos saw it
// under load). Here a "zombie" producer holds such a transaction open, with a
// changelog record and a pending offset commit of the group, while a new
// instance restores from nothing; it commits 2 s later, and the restored store
// must hold its record.
func TestRestoreWaitsForOpenTransaction(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "a"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	a := startInstance(t, cfg)
	waitReady(t, a)
	produce(t, client(t, addr), tr.batch(rand.New(rand.NewPCG(21, 22)), 300))
	waitProcessed(t, a, float64(tr.sent))
	a.stop(t) // leaves the group with its offsets committed

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	committed, err := kadm.NewClient(client(t, addr)).FetchOffsetsForTopics(ctx, cfg.Stream.ApplicationID, cfg.RepartitionTopic())
	if err != nil {
		t.Fatal(err)
	}
	at, ok := committed.Lookup(cfg.RepartitionTopic(), 0)
	if !ok || at.Err != nil || at.At < 0 {
		t.Fatalf("committed offset of repartition partition 0: %+v", at)
	}

	zombie, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("zombie"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Close()
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	key := store.Key{Agg: "endpoint_1m", Group: store.AppendGroup(nil, []byte("/zombie")), Start: engine.TotalStart}
	total := aggregate.New(*cfg.Sketch.Schema, true)
	total.Count = 42
	value, err := aggregate.Value{End: engine.TotalStart, Last: tr.base, Agg: total}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Topic: cfg.ChangelogTopic("endpoint_1m"), Partition: 0, Key: key.Append(nil), Value: value}
	if err := zombie.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := zombie.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "zombie", pid, epoch, cfg.Stream.ApplicationID
	if resp, err := add.RequestWith(ctx, zombie); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v, %+v", err, resp)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch, commit.Generation = "zombie", cfg.Stream.ApplicationID, pid, epoch, -1
	topics, err := kadm.NewClient(client(t, addr)).ListTopics(ctx, cfg.RepartitionTopic())
	if err != nil {
		t.Fatal(err)
	}
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic, ct.TopicID = cfg.RepartitionTopic(), topics[cfg.RepartitionTopic()].ID
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 0, at.At, -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if resp, err := commit.RequestWith(ctx, zombie); err != nil || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v, %+v", err, resp)
	}

	b := startInstance(t, instanceConfig(t, addr, "b", filepath.Join(t.TempDir(), "b"))) // restores from the changelogs
	defer b.stop(t)
	time.Sleep(2 * time.Second)
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	waitReady(t, b)
	for _, si := range b.rt.Stores() {
		if si.Partition != 0 {
			continue
		}
		got, ok, err := si.Store.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		var v aggregate.Value
		if !ok || v.UnmarshalBinary(got) != nil || v.Agg.Count != 42 {
			t.Fatalf("partition 0 restored without the record of the transaction that was open (found %v): its changes would be lost", ok)
		}
		return
	}
	t.Fatal("the instance holds no store of partition 0")
}
