package stream

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/internal/jsonstr"
)

// metaKey is the changelog key of a stage-2 task's watermarks (the latest of
// each stage-1 source). Data keys start with a non-empty aggregation name, so a
// key starting with 0x00 is never one of them.
var metaKey = []byte("\x00watermarks")

// legacyMetaKey is the stream-time record of a changelog written before global
// windows (per input partition), which a restore refuses.
var legacyMetaKey = []byte("\x00streamtime")

// metaValue encodes watermarks: a uvarint count, then varints.
func metaValue(watermarks []int64) []byte {
	b := binary.AppendUvarint(nil, uint64(len(watermarks)))
	for _, w := range watermarks {
		b = binary.AppendVarint(b, w)
	}
	return b
}

func parseMeta(v []byte) ([]int64, bool) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil, false
	}
	v = v[k:]
	w := make([]int64, 0, n)
	for range n {
		t, k := binary.Varint(v)
		if k <= 0 {
			return nil, false
		}
		w, v = append(w, t), v[k:]
	}
	return w, len(v) == 0
}

// mergeWatermarks raises each of dst's watermarks to src's, growing dst to src's
// length (a source dst has not heard from is at NoTime).
func mergeWatermarks(dst, src []int64) []int64 {
	for len(dst) < len(src) {
		dst = append(dst, engine.NoTime)
	}
	for i, w := range src {
		dst[i] = max(dst[i], w)
	}
	return dst
}

// Headers of dead-letter and late records.
const (
	HeaderReason    = "kwindow.reason"    // dead letter: the event.Reason, e.g. not_json
	HeaderError     = "kwindow.error"     // dead letter: the full error message
	HeaderTopic     = "kwindow.topic"     // where the record came from
	HeaderPartition = "kwindow.partition" // likewise
	HeaderOffset    = "kwindow.offset"    // likewise
	HeaderLateFor   = "kwindow.late_for"  // late: aggregation names, comma-separated
)

// sourceHeaders says where r came from.
func sourceHeaders(r *kgo.Record, extra ...kgo.RecordHeader) []kgo.RecordHeader {
	return append(extra,
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		kgo.RecordHeader{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
	)
}

// resultKey names a window result on the output topic:
// endpoint_1m{endpoint="/api/users"}@1732230000000. Values are quoted as JSON
// strings, like the value's.
func resultKey(dst []byte, agg *config.Aggregation, vals [][]byte, start int64) []byte {
	dst = append(dst, agg.Name...)
	dst = append(dst, '{')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, agg.GroupBy[i]...)
		dst = append(dst, '=')
		dst = jsonstr.Append(dst, v)
	}
	dst = append(dst, '}', '@')
	return strconv.AppendInt(dst, start, 10)
}

// appendResult writes a closed window as the JSON object of the output topic:
//
//	{"aggregation":"endpoint_1m","start":"2026-11-22T10:00:00Z","end":"2026-11-22T10:01:00Z",
//	 "start_ms":1795341600000,"end_ms":1795341660000,"key":{"endpoint":"/api/users"},
//	 "count":1200,"client_errors":12,"server_errors":3,"error_ratio":0.0025,
//	 "sum":14.2,"min":0.001,"max":0.3,"quantiles":{"0.5":0.011,"0.95":0.02,"0.99":0.027}}
//
// Measures the aggregation does not compute are left out; NaN becomes null.
// Each (aggregation, key, window) has exactly one result: the stage-2 task that
// owns the key publishes it once every input partition has passed the window's
// end + grace.
func appendResult(dst []byte, agg *config.Aggregation, vals [][]byte, c *engine.Change) []byte {
	a := c.Value.Agg
	dst = append(dst, `{"aggregation":`...)
	dst = jsonstr.Append(dst, []byte(agg.Name))
	dst = append(dst, `,"start":"`...)
	dst = time.UnixMilli(c.Start).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","end":"`...)
	dst = time.UnixMilli(c.Value.End).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","start_ms":`...)
	dst = strconv.AppendInt(dst, c.Start, 10)
	dst = append(dst, `,"end_ms":`...)
	dst = strconv.AppendInt(dst, c.Value.End, 10)
	dst = append(dst, `,"key":{`...)
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, []byte(agg.GroupBy[i]))
		dst = append(dst, ':')
		dst = jsonstr.Append(dst, v)
	}
	dst = append(dst, `},"count":`...)
	dst = strconv.AppendUint(dst, a.Count, 10)
	if agg.Has(config.Errors) {
		dst = append(dst, `,"client_errors":`...)
		dst = strconv.AppendUint(dst, a.ClientErrors, 10)
		dst = append(dst, `,"server_errors":`...)
		dst = strconv.AppendUint(dst, a.ServerErrors, 10)
	}
	if agg.Has(config.ErrorRatio) {
		dst = appendFloatField(dst, "error_ratio", a.ErrorRatio())
	}
	if agg.Has(config.Sum) {
		dst = appendFloatField(dst, "sum", a.Sum)
	}
	if agg.Has(config.Min) {
		dst = appendFloatField(dst, "min", nanIfEmpty(a.Min, a.Values))
	}
	if agg.Has(config.Max) {
		dst = appendFloatField(dst, "max", nanIfEmpty(a.Max, a.Values))
	}
	if len(agg.Quantiles) > 0 {
		dst = append(dst, `,"quantiles":{`...)
		for i, q := range agg.Quantiles {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = strconv.AppendFloat(dst, q, 'g', -1, 64)
			dst = append(dst, `":`...)
			dst = appendFloat(dst, a.Quantile(q))
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func nanIfEmpty(v float64, n uint64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return v
}

func appendFloatField(dst []byte, name string, v float64) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendFloat(dst, v)
}

func appendFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}
