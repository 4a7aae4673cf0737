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
