package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/store"
)

// produce sends r within the current transaction; ok runs once it is acknowledged.
func (s *session) produce(r *kgo.Record, ok func(*kgo.Record)) {
	s.send(r, func(r *kgo.Record, err error) {
		if err != nil {
			s.failRecord(r, err)
			return
		}
		if ok != nil {
			ok(r)
		}
	})
}

// send sends r within the current transaction. promise runs once r is
// acknowledged or failed, and must then call failRecord.
func (s *session) send(r *kgo.Record, promise func(*kgo.Record, error)) {
	s.produced.Add(1)
	if s.txn != nil {
		s.txn.Produce(context.Background(), r, promise)
	} else {
		s.cl.Produce(context.Background(), r, promise)
	}
}

// failRecord makes the transaction abort, record r having failed with err.
func (s *session) failRecord(r *kgo.Record, err error) {
	s.failProduce(fmt.Errorf("topic %s partition %d: %w", r.Topic, r.Partition, err))
}

func (s *session) failProduce(err error) { s.produceErr.CompareAndSwap(nil, &err) }

func (s *session) deadLetter(partition int32, r *kgo.Record, reason event.Reason, err error) {
	rt := s.rt
	c := rt.fitCopy(r, "dead_letter",
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason.String())},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())})
	c.Topic, c.Partition = rt.cfg.Stream.DeadLetterTopic, partition%rt.dlqParts
	s.produce(c, nil)
}

func (s *session) lateRecord(partition int32, r *kgo.Record, late uint64) {
	rt := s.rt
	if rt.lateParts == 0 {
		return
	}
	var names []string
	for i, a := range rt.cfg.Aggregations {
		if late&(1<<i) != 0 {
			names = append(names, a.Name)
		}
	}
	c := rt.fitCopy(r, "late", kgo.RecordHeader{Key: HeaderLateFor, Value: []byte(strings.Join(names, ","))})
	c.Topic, c.Partition = rt.cfg.Stream.LateTopic, partition%rt.lateParts
	s.produce(c, nil)
}

func (s *session) publishResult(partition int32, c *engine.Change) {
	rt := s.rt
	if rt.outParts == 0 {
		return
	}
	agg := &rt.cfg.Aggregations[c.Agg]
	vals, _ := store.SplitGroup([]byte(c.Group))
	s.produce(&kgo.Record{
		Topic: rt.cfg.Stream.OutputTopic, Partition: partition % rt.outParts,
		Key: resultKey(nil, agg, vals, c.Start), Value: appendResult(nil, agg, vals, c),
	}, nil)
}

// Copies of input records (dead letters, late records) carry the original key and
// value plus headers, so a record read at the broker's size limit would not fit
// back: the producer or the broker would refuse it (MESSAGE_TOO_LARGE) and every
// transaction would abort on it forever. fitCopy cuts the value, then the key if
// it must, to what fits, and says so in headers: kwindow.truncated names what was
// cut, kwindow.original_key_bytes / kwindow.original_value_bytes the original
// sizes and kwindow.original_sha256 the SHA-256 of the whole original value.
const (
	HeaderTruncated     = "kwindow.truncated"
	HeaderOriginalKey   = "kwindow.original_key_bytes"
	HeaderOriginalValue = "kwindow.original_value_bytes"
	HeaderOriginalHash  = "kwindow.original_sha256"
)

// recordOverhead bounds what a record adds to its key, value and header bytes in a
// record batch: the batch header (61 bytes, one record per batch in the worst
// case), the record's length, attributes, timestamp and offset deltas and the
// varint lengths of key, value, header count and each header.
const recordOverhead = 61 + 5 + 1 + 10 + 5 + 5 + 5 + 5

// fitCopy returns the copy of r to produce: its key and value, the source headers
// and extra, cut to rt.copyLimit bytes as a record. kind labels the counter.
func (rt *Runtime) fitCopy(r *kgo.Record, kind string, extra ...kgo.RecordHeader) *kgo.Record {
	headers := sourceHeaders(r, extra...)
	size := func(key, value []byte, hs []kgo.RecordHeader) int {
		n := recordOverhead + len(key) + len(value)
		for _, h := range hs {
			n += 10 + len(h.Key) + len(h.Value)
		}
		return n
	}
	limit := rt.copyLimit
	if limit <= 0 || size(r.Key, r.Value, headers) <= limit {
		return &kgo.Record{Key: r.Key, Value: r.Value, Headers: headers}
	}
	sum := sha256.Sum256(r.Value)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderOriginalKey, Value: strconv.AppendInt(nil, int64(len(r.Key)), 10)},
		kgo.RecordHeader{Key: HeaderOriginalValue, Value: strconv.AppendInt(nil, int64(len(r.Value)), 10)},
		kgo.RecordHeader{Key: HeaderOriginalHash, Value: []byte(hex.EncodeToString(sum[:]))},
		kgo.RecordHeader{Key: HeaderTruncated, Value: []byte("key,value")}, // the longest value; set below
	)
	// Headers themselves could exceed the limit only with absurd limits; then the
	// error message header is cut first.
	for i := range headers {
		if headers[i].Key == HeaderError && size(nil, nil, headers) > limit {
			headers[i].Value = headers[i].Value[:min(len(headers[i].Value), 256)]
		}
	}
	// The key keeps at least half the room, more if the value needs less.
	room := max(limit-size(nil, nil, headers), 0)
	key, value := r.Key, r.Value
	var cut []string
	if keep := max(room/2, room-len(value)); len(key) > keep {
		key, cut = key[:keep], append(cut, "key")
	}
	if keep := room - len(key); len(value) > keep {
		value, cut = value[:keep], append(cut, "value")
	}
	headers[len(headers)-1].Value = []byte(strings.Join(cut, ","))
	rt.metrics.truncated.WithLabelValues(kind).Inc()
	return &kgo.Record{Key: key, Value: value, Headers: headers}
}

// maxCopyBytes is the largest record kwindow may write to the dead-letter and late
// topics: the smaller of their max.message.bytes and the producer's batch limit.
func (rt *Runtime) maxCopyBytes(ctx context.Context) (int, error) {
	limit := producerBatchMax
	var topics []string
	for _, t := range []string{rt.cfg.Stream.DeadLetterTopic, rt.cfg.Stream.LateTopic} {
		if t != "" && t != "-" {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return limit, nil
	}
	rcs, err := rt.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("reading the max.message.bytes of %v: %w", topics, err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return 0, fmt.Errorf("reading the configuration of topic %s: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" && c.Value != nil {
				if n, err := strconv.Atoi(*c.Value); err == nil && n > 0 {
					limit = min(limit, n)
				}
			}
		}
	}
	return limit, nil
}

// producerBatchMax is franz-go's default ProducerBatchMaxBytes, which kwindow does
// not change: the largest record batch its producer sends.
const producerBatchMax = 1000012
