package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Trim deletes the records of topic below the offsets group has committed
// (DeleteRecords), and returns how many offsets the partitions' log starts moved
// by: the records deleted, counting the markers of transactions. Partitions the
// group has not committed are left alone, as is everything when the group does
// not exist yet.
//
// Only committed offsets are used: an offset a transaction has sent but not yet
// committed is invisible here, so an aborted transaction always finds the records
// it must process again. Another group reading topic loses the records it has not
// read yet: trim only topics that one group consumes.
func Trim(ctx context.Context, adm *kadm.Client, group, topic string) (deleted int64, err error) {
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("trimming %s: offsets of group %s: %w", topic, group, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("trimming %s: start offsets: %w", topic, err)
	}
	del := make(kadm.Offsets)
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Topic != topic || o.Err != nil || o.At < 0 {
			return
		}
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Err == nil && o.At > s.Offset {
			del.Add(kadm.Offset{Topic: topic, Partition: o.Partition, At: o.At, LeaderEpoch: -1})
		}
	})
	return deleteRecords(ctx, adm, topic, del, starts)
}

// deleteRecords deletes the records of topic below del, and returns how many
// offsets the log starts moved by from starts.
func deleteRecords(ctx context.Context, adm *kadm.Client, topic string, del kadm.Offsets, starts kadm.ListedOffsets) (deleted int64, err error) {
	if len(del) == 0 {
		return 0, nil
	}
	resps, err := adm.DeleteRecords(ctx, del)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, ps := range resps {
		for p, r := range ps {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", p, r.Err))
				continue
			}
			if s, ok := starts.Lookup(topic, p); ok && r.LowWatermark > s.Offset {
				deleted += r.LowWatermark - s.Offset
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("trimming %s: deleting records: %w", topic, err)
	}
	return deleted, nil
}

// RunTrimmer trims topics behind group every interval until ctx is done, passing
// what it deleted and any error to logf (nil: silent). An error does not stop it:
// the next round tries again.
func RunTrimmer(ctx context.Context, adm *kadm.Client, group string, topics []string, every time.Duration, logf func(format string, args ...any)) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, topic := range topics {
			n, err := Trim(ctx, adm, group, topic)
			switch {
			case err != nil && ctx.Err() == nil:
				logf("broker: %v", err)
			case n > 0:
				logf("broker: trimmed %d records of %s behind group %s", n, topic, group)
			}
		}
	}
}

// TrimOlder deletes the records of topic written before t (by their timestamp,
// the produce time unless the producer set one): in each partition, everything
// before the first record at or after t, or everything when there is none. It
// returns how many offsets the partitions' log starts moved by. A topic that does
// not exist is left alone, as is everything for a t at or before 1970.
func TrimOlder(ctx context.Context, adm *kadm.Client, topic string, t time.Time) (deleted int64, err error) {
	if t.UnixMilli() <= 0 {
		// Nothing is older; and negative timestamps mean "latest" (-1) or
		// "earliest" (-2) to ListOffsets.
		return 0, nil
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topic)
	if err != nil {
		return 0, fmt.Errorf("trimming %s: offsets after %v: %w", topic, t.Format(time.RFC3339), err)
	}
	var errs []error
	after.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("trimming %s: offsets after %v: %w", topic, t.Format(time.RFC3339), err)
	}
	if ps := after[topic]; len(ps) == 0 || ps[-1].Err != nil { // no such topic
		return 0, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("trimming %s: start offsets: %w", topic, err)
	}
	del := make(kadm.Offsets)
	after.Each(func(o kadm.ListedOffset) {
		if o.Topic != topic || o.Err != nil || o.Offset < 0 {
			return
		}
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Err == nil && o.Offset > s.Offset {
			del.Add(kadm.Offset{Topic: topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
		}
	})
	return deleteRecords(ctx, adm, topic, del, starts)
}

// RunRetention deletes, every interval until ctx is done, the records of topics
// older than keep (TrimOlder), passing what it deleted and any error to logf
// (nil: silent). An error does not stop it: the next round tries again.
func RunRetention(ctx context.Context, adm *kadm.Client, topics []string, keep, every time.Duration, logf func(format string, args ...any)) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, topic := range topics {
			n, err := TrimOlder(ctx, adm, topic, time.Now().Add(-keep))
			switch {
			case err != nil && ctx.Err() == nil:
				logf("broker: %v", err)
			case n > 0:
				logf("broker: deleted %d records of %s older than %v", n, topic, keep)
			}
		}
	}
}
