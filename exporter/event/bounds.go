package event

import (
	"fmt"
	"math"
	"time"

	"github.com/kwindow/kwindow/exporter/internal/satint"
)

// Every event time is bounded, whatever its source (the payload's timestamp field or
// the Kafka record time): an absurd time would move stream time and close every open
// window, or sit in the state for ever.

// checkTime returns the bad_timestamp error of an event time ms outside
// [MinTime, now + MaxFutureSkew], or nil. field is the timestamp field, or "" when
// ms is the record time. It is small enough to inline: the common case (SetNow, a
// time within bounds) is two comparisons.
func (d *Decoder) checkTime(ms int64, field string) error {
	if d.clock == nil && ms >= d.minTime && ms <= d.maxTime {
		return nil
	}
	return d.checkTimeSlow(ms, field)
}

func (d *Decoder) checkTimeSlow(ms int64, field string) error {
	now, maxTime := d.now, d.maxTime
	if d.clock != nil {
		now = d.clock().UnixMilli()
		maxTime = satint.Add(now, d.skew)
	}
	if ms >= d.minTime && ms <= maxTime {
		return nil
	}
	what := fmtMillis(ms)
	if field == "" {
		what = "record time " + what + " (the payload has no timestamp)"
	}
	if ms < d.minTime {
		return errorf(BadTimestamp, field, "%s is before the minimum time %s", what, fmtMillis(d.minTime))
	}
	return errorf(BadTimestamp, field, "%s is %v ahead of now (%s), more than the allowed %v",
		what, fmtDuration(satint.Sub(ms, now)), fmtMillis(now), fmtDuration(d.skew))
}

func fmtDuration(ms int64) string {
	if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
		return fmt.Sprintf("%d ms", ms)
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

// fmtMillis writes a unix ms time as RFC 3339 when it is after the epoch and before
// the year 10000, else as a number of ms ("0 ms", "-1 ms"): a time that is plainly
// not a time should not read like one.
func fmtMillis(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if ms <= 0 || t.Year() > 9999 {
		return fmt.Sprintf("%d ms", ms)
	}
	return t.Format(time.RFC3339Nano)
}
