package config

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse: no file makes Parse panic; every error line names the file; and
// what Parse accepts, the event decoder accepts too (its own checks run at
// start, after config check).
func FuzzParse(f *testing.F) {
	f.Add(Example())
	f.Add([]byte("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advance: 10s}\n    retension: 1h\n"))
	f.Add([]byte("events: {dimensions: [{name: le}], max_future_skew: -1s, min_timestamp: x}\n"))
	f.Add([]byte("a: &a [1, *a]\n"))
	f.Add([]byte("aggregations:\n  - &x {name: a, window: {type: tumbling, size: 1m}}\n  - <<: *x\n    name: b\n"))
	f.Add([]byte("stream: {commit_interval: 0s, input_topic: x, dead_letter_topic: x}\n"))
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("f.yml", data, func() time.Time { return now })
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config f.yml") {
					t.Fatalf("error line %q lacks the file", line)
				}
			}
			return
		}
		if err := c.EventSchema().Validate(); err != nil {
			t.Fatalf("accepted, but the decoder refuses the events: %v", err)
		}
	})
}
