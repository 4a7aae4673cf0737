package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every bounded field at 0, negative, its largest value and just past it. want ""
// means accepted; otherwise the one error expected (file:line: path: message).
func TestLimits(t *testing.T) {
	const agg = "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	f := func(yml, want string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(yml))
		switch {
		case want == "" && err != nil:
			t.Errorf("refused:\n%s\n%v", yml, err)
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("error for\n%s\n= %v\nwant %s", yml, err, want)
		}
	}

	// aggregations[].max_keys: > 0; 0 is no longer silently the default.
	f(agg+"    max_keys: 0\n", "config k.yml:4: aggregations[0].max_keys: must be > 0, got 0")
	f(agg+"    max_keys: -1\n", "config k.yml:4: aggregations[0].max_keys: must be > 0, got -1")
	f(agg+"    max_keys: 1\n", "")
	f(agg+"    max_keys: 9223372036854775807\n", "")
	f(agg+"    max_keys: 9223372036854775808\n", "config k.yml:4: aggregations[0].max_keys: must be between -9223372036854775808 and 9223372036854775807, got 9223372036854775808")

	// aggregations[].retention: 0 is no longer the default either.
	f(agg+"    retention: 0s\n", "config k.yml:4: aggregations[0].retention: must be >= window size + grace (1m0s), got 0s")
	f(agg+"    retention: 1m\n", "")

	// Hopping windows: at most 1000 windows per event.
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1000m, advance: 1m}\n", "")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1001m, advance: 1m}\n",
		"config k.yml:3: aggregations[0].window.advance: must be >= size/1000 (1m60ms): an event falls in size/advance windows, at most 1000; got 1m")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1d, advance: 1ms}\n",
		"config k.yml:3: aggregations[0].window.advance: must be >= size/1000 (1m26s400ms): an event falls in size/advance windows, at most 1000; got 1ms")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advance: 1m}\n", "")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advance: 0s}\n",
		"config k.yml:3: aggregations[0].window.advance: must be > 0 and <= size (1m0s), got 0s")

	// anomaly: alpha in (0, 1], warmup >= 1, explicit 0 refused.
	an := agg + "    anomaly: {measures: [count], "
	f(an+"alpha: 0}\n", "config k.yml:4: aggregations[0].anomaly.alpha: must be in (0, 1], got 0")
	f(an+"alpha: -0.1}\n", "config k.yml:4: aggregations[0].anomaly.alpha: must be in (0, 1], got -0.1")
	f(an+"alpha: 1}\n", "")
	f(an+"alpha: 1.01}\n", "config k.yml:4: aggregations[0].anomaly.alpha: must be in (0, 1], got 1.01")
	f(an+"alpha: .nan}\n", "config k.yml:4: aggregations[0].anomaly.alpha: must be in (0, 1], got NaN")
	f(an+"warmup: 0}\n", "config k.yml:4: aggregations[0].anomaly.warmup: must be >= 1, got 0")
	f(an+"warmup: -1}\n", "config k.yml:4: aggregations[0].anomaly.warmup: must be >= 1, got -1")
	f(an+"warmup: 1}\n", "")

	// Duplicates that would make duplicate series (every scrape fails) or
	// duplicate JSON keys.
	f("aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    quantiles: [0.5, 0.99, 0.5]\n    anomaly: {measures: [p99, count, p990]}\n",
		"config k.yml:4: aggregations[0].quantiles[2]: 0.5 listed twice\n"+
			`config k.yml:5: aggregations[0].anomaly.measures[2]: "p990" is scored already (as "p99"): each measure makes one anomaly_score series`)
	f(agg+"    anomaly: {measures: [count, count]}\n",
		`config k.yml:4: aggregations[0].anomaly.measures[1]: "count" is scored already (as "count"): each measure makes one anomaly_score series`)
	f(agg+"    measures: [count, count]\n", `config k.yml:4: aggregations[0].measures[1]: measure "count" listed twice`)
	f(agg+"    quantiles: [0, 1]\n", "")
	f(agg+"    quantiles: [-0.01]\n", "config k.yml:4: aggregations[0].quantiles[0]: must be between 0 and 1, got -0.01")
	f(agg+"    quantiles: [1.01]\n", "config k.yml:4: aggregations[0].quantiles[0]: must be between 0 and 1, got 1.01")

	// aggregations: 1 to 64.
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("aggregations:\n")
		for i := range n {
			b.WriteString("  - {name: a" + strings.Repeat("x", i) + ", window: {type: tumbling, size: 1m}}\n")
		}
		return b.String()
	}
	f(many(64), "")
	f(many(65), "config k.yml:1: aggregations: at most 64 aggregations, got 65")
	f("aggregations: []\n", "config k.yml:1: aggregations: at least one aggregation is needed")

	// events.max_future_skew: > 0 (0 used to disable the check).
	f(agg+"events: {max_future_skew: 0s}\n", "config k.yml:4: events.max_future_skew: must be > 0, got 0s")
	f(agg+"events: {max_future_skew: 1ms}\n", "")
	f(agg+"events: {max_future_skew: 292y}\n", "")
	// events.max_size: 1 to 100 MiB.
	f(agg+"events: {max_size: 0}\n", "config k.yml:4: events.max_size: must be between 1 and 104857600 (100 MiB), got 0")
	f(agg+"events: {max_size: -1}\n", "config k.yml:4: events.max_size: must be between 1 and 104857600 (100 MiB), got -1")
	f(agg+"events: {max_size: 1}\n", "")
	f(agg+"events: {max_size: 104857600}\n", "")
	f(agg+"events: {max_size: 104857601}\n", "config k.yml:4: events.max_size: must be between 1 and 104857600 (100 MiB), got 104857601")
	// events.max_dimension_length: 1 to 64 KiB.
	f(agg+"events: {max_dimension_length: 0}\n", "config k.yml:4: events.max_dimension_length: must be between 1 and 65536 (64 KiB), got 0")
	f(agg+"events: {max_dimension_length: -5}\n", "config k.yml:4: events.max_dimension_length: must be between 1 and 65536 (64 KiB), got -5")
	f(agg+"events: {max_dimension_length: 1}\n", "")
	f(agg+"events: {max_dimension_length: 65536}\n", "")
	f(agg+"events: {max_dimension_length: 65537}\n", "config k.yml:4: events.max_dimension_length: must be between 1 and 65536 (64 KiB), got 65537")
	f(agg+"events:\n  max_dimension_length: 3\n  dimensions: [{name: r, optional: true, default: abcd}]\n",
		"config k.yml:6: events.dimensions[0].default: is 4 bytes, longer than max_dimension_length (3)")

	// metrics.idle_windows: 1 to 10000.
	f(agg+"metrics: {idle_windows: 0}\n", "config k.yml:4: metrics.idle_windows: must be between 1 and 10000, got 0")
	f(agg+"metrics: {idle_windows: -1}\n", "config k.yml:4: metrics.idle_windows: must be between 1 and 10000, got -1")
	f(agg+"metrics: {idle_windows: 10000}\n", "")
	f(agg+"metrics: {idle_windows: 10001}\n", "config k.yml:4: metrics.idle_windows: must be between 1 and 10000, got 10001")

	// metrics.classic_buckets: positive, finite, strictly increasing, at most 100;
	// [] exports only +Inf.
	cb := func(n int, first float64) string {
		bs := make([]string, n)
		for i := range bs {
			bs[i] = strconv.FormatFloat(first+float64(i), 'g', -1, 64)
		}
		return agg + "metrics: {classic_buckets: [" + strings.Join(bs, ", ") + "]}\n"
	}
	f(agg+"metrics: {classic_buckets: []}\n", "")
	f(cb(1, 1e-300), "")
	f(cb(100, 1), "")
	f(cb(101, 1), "config k.yml:4: metrics.classic_buckets: at most 100 bounds, got 101")
	f(agg+"metrics: {classic_buckets: [0]}\n", "config k.yml:4: metrics.classic_buckets[0]: must be > 0, got 0")
	f(agg+"metrics: {classic_buckets: [-0.5, 1]}\n", "config k.yml:4: metrics.classic_buckets[0]: must be > 0, got -0.5")
	f(agg+"metrics: {classic_buckets: [1, .inf]}\n", "config k.yml:4: metrics.classic_buckets[1]: must be finite (the +Inf bucket is always exported), got +Inf")
	f(agg+"metrics: {classic_buckets: [.nan]}\n", "config k.yml:4: metrics.classic_buckets[0]: must be finite (the +Inf bucket is always exported), got NaN")
	f(agg+"metrics: {classic_buckets: [0.1, 0.5, 0.5]}\n", "config k.yml:4: metrics.classic_buckets[2]: must be greater than the bound before it (0.5), got 0.5")
	f(agg+"metrics: {classic_buckets: [0.1, 0.05]}\n", "config k.yml:4: metrics.classic_buckets[1]: must be greater than the bound before it (0.1), got 0.05")
	f(agg+"metrics:\n  classic_buckets:\n    - 1\n    - 2\n    - 0\n", "config k.yml:8: metrics.classic_buckets[2]: must be > 0, got 0")
	f(agg+"metrics: {classic_buckets: [1, fast]}\n", "config k.yml:4: metrics.classic_buckets[1]: must be a number, got \"fast\"")
	// Schemas.
	f(agg+"sketch: {schema: -4}\nmetrics: {histogram_schema: -4}\n", "")
	f(agg+"sketch: {schema: 8}\nmetrics: {histogram_schema: 8}\n", "")
	f(agg+"sketch: {schema: -5}\n", "config k.yml:4: sketch.schema: must be between -4 and 8, got -5")
	f(agg+"sketch: {schema: 4}\nmetrics: {histogram_schema: 5}\n", "config k.yml:5: metrics.histogram_schema: must be between -4 and the sketch schema (4), got 5")

	// kafka.fetch_max_bytes: 1 to 100 MiB (franz-go refuses more at start);
	// fetch_max_partition_bytes: 1 to fetch_max_bytes.
	f(agg+"kafka: {fetch_max_bytes: 0}\n", "config k.yml:4: kafka.fetch_max_bytes: must be between 1 and 104857600 (100 MiB, franz-go's largest read), got 0")
	f(agg+"kafka: {fetch_max_bytes: -1}\n", "config k.yml:4: kafka.fetch_max_bytes: must be between 1 and 104857600 (100 MiB, franz-go's largest read), got -1")
	f(agg+"kafka: {fetch_max_bytes: 104857600}\n", "")
	f(agg+"kafka: {fetch_max_bytes: 104857601}\n", "config k.yml:4: kafka.fetch_max_bytes: must be between 1 and 104857600 (100 MiB, franz-go's largest read), got 104857601")
	f(agg+"kafka: {fetch_max_partition_bytes: 0}\n", "config k.yml:4: kafka.fetch_max_partition_bytes: must be > 0 and <= fetch_max_bytes (8388608), got 0")
	f(agg+"kafka: {fetch_max_partition_bytes: -1}\n", "config k.yml:4: kafka.fetch_max_partition_bytes: must be > 0 and <= fetch_max_bytes (8388608), got -1")
	f(agg+"kafka: {fetch_max_partition_bytes: 8388608}\n", "")
	f(agg+"kafka: {fetch_max_partition_bytes: 8388609}\n", "config k.yml:4: kafka.fetch_max_partition_bytes: must be > 0 and <= fetch_max_bytes (8388608), got 8388609")
	// kafka.fetch_max_wait: franz-go's 10ms to int32 milliseconds; 0 used to be
	// the default, 1ms-9ms passed config check and failed at start.
	f(agg+"kafka: {fetch_max_wait: 0s}\n", "config k.yml:4: kafka.fetch_max_wait: must be between 10ms and 24d20h31m23s647ms (franz-go's range), got 0s")
	f(agg+"kafka: {fetch_max_wait: 9ms}\n", "config k.yml:4: kafka.fetch_max_wait: must be between 10ms and 24d20h31m23s647ms (franz-go's range), got 9ms")
	f(agg+"kafka: {fetch_max_wait: 10ms}\n", "")
	f(agg+"kafka: {fetch_max_wait: 24d20h31m23s647ms}\n", "")
	f(agg+"kafka: {fetch_max_wait: 24d20h31m23s648ms}\n", "config k.yml:4: kafka.fetch_max_wait: must be between 10ms and 24d20h31m23s647ms (franz-go's range), got 24d20h31m23s648ms")
	// kafka.client_id: 1 to 256 characters.
	f(agg+"kafka: {client_id: ''}\n", "config k.yml:4: kafka.client_id: must be 1 to 256 characters, got 0")
	f(agg+"kafka: {client_id: "+strings.Repeat("c", 256)+"}\n", "")
	f(agg+"kafka: {client_id: "+strings.Repeat("c", 257)+"}\n", "config k.yml:4: kafka.client_id: must be 1 to 256 characters, got 257")
	// kafka.brokers.
	f(agg+"kafka: {brokers: []}\n", "config k.yml:4: kafka.brokers: at least one broker is needed")
	f(agg+"kafka: {brokers: ['[::1]:9092', 'kafka-0.kafka:65535', '10.0.0.1:1']}\n", "")
	for _, b := range []string{"localhost", "localhost:", ":9092", "host:0", "host:65536", "host:-1", "host:port", "::1:9092"} {
		f(agg+"kafka: {brokers: ['"+b+"']}\n", `config k.yml:4: kafka.brokers[0]: "`+b+`" is not host:port`)
	}

	// stream.commit_interval: 1ms to 30s under exactly_once (half the
	// transaction timeout: a transaction open past 1m is aborted by the broker,
	// so every commit would abort); 0 used to be silently the default.
	f(agg+"stream: {commit_interval: 0s}\n", "config k.yml:4: stream.commit_interval: must be >= 1ms, got 0s")
	f(agg+"stream: {commit_interval: 1ms}\n", "")
	f(agg+"stream: {commit_interval: 30s}\n", "")
	f(agg+"stream: {commit_interval: 30001ms}\n",
		"config k.yml:4: stream.commit_interval: must be <= 30s under exactly_once (a commit interval is one transaction, and the broker aborts one open longer than 1m), got 30s1ms")
	f(agg+"stream: {commit_interval: 5m, processing_guarantee: at_least_once}\n", "")
	// stream.session_timeout: 3s (franz-go's heartbeat interval, which it must
	// not be below: kgo.NewClient refuses 1s-2.999s) to int32 milliseconds.
	f(agg+"stream: {session_timeout: 0s}\n", "config k.yml:4: stream.session_timeout: must be between 3s (the group heartbeat interval) and 24d20h31m23s647ms, got 0s")
	f(agg+"stream: {session_timeout: 2999ms}\n", "config k.yml:4: stream.session_timeout: must be between 3s (the group heartbeat interval) and 24d20h31m23s647ms, got 2s999ms")
	f(agg+"stream: {session_timeout: 3s}\n", "")
	f(agg+"stream: {session_timeout: 24d20h31m23s647ms}\n", "")
	f(agg+"stream: {session_timeout: 25d}\n", "config k.yml:4: stream.session_timeout: must be between 3s (the group heartbeat interval) and 24d20h31m23s647ms, got 25d")
	// stream.idle_timeout: >= 0, 0 disables.
	f(agg+"stream: {idle_timeout: 0s}\n", "")
	f(agg+"stream: {idle_timeout: -1ms}\n", "config k.yml:4: stream.idle_timeout: must be >= 0 (0 disables), got -1ms")
	// stream.threads: 0 (one per CPU) to 256.
	f(agg+"stream: {threads: 0}\n", "")
	f(agg+"stream: {threads: 256}\n", "")
	f(agg+"stream: {threads: -1}\n", "config k.yml:4: stream.threads: must be between 0 (one per CPU) and 256, got -1")
	f(agg+"stream: {threads: 257}\n", "config k.yml:4: stream.threads: must be between 0 (one per CPU) and 256, got 257")
	// stream.replication_factor: -1 or >= 1.
	f(agg+"stream: {replication_factor: 0}\n", "config k.yml:4: stream.replication_factor: must be -1 (broker default) or >= 1, got 0")
	f(agg+"stream: {replication_factor: -2}\n", "config k.yml:4: stream.replication_factor: must be -1 (broker default) or >= 1, got -2")
	f(agg+"stream: {replication_factor: 32767}\n", "")
	// stream.instance_id: Kafka checks group.instance.id as a topic name.
	f(agg+"stream: {instance_id: ''}\n", `config k.yml:4: stream.instance_id: "" must not be empty`)
	f(agg+"stream: {instance_id: 'host/1'}\n", `config k.yml:4: stream.instance_id: "host/1" is not a valid topic name ([a-zA-Z0-9._-]+)`)
	f(agg+"stream: {instance_id: "+strings.Repeat("i", 249)+"}\n", "")
	f(agg+"stream: {instance_id: "+strings.Repeat("i", 250)+"}\n", `config k.yml:4: stream.instance_id: "`+strings.Repeat("i", 250)+`" is 250 characters long, more than 249`)
	// stream.application_id: up to 200, so that the topics it prefixes fit.
	f(agg+"stream: {application_id: "+strings.Repeat("p", 200)+"}\n", "")
	f(agg+"stream: {application_id: "+strings.Repeat("p", 201)+"}\n", `config k.yml:4: stream.application_id: "`+strings.Repeat("p", 201)+`" is 201 characters long, more than 200`)

	// state.
	f(agg+"state: {block_cache_size: 0}\n", "config k.yml:4: state.block_cache_size: must be > 0, got 0")
	f(agg+"state: {block_cache_size: -1}\n", "config k.yml:4: state.block_cache_size: must be > 0, got -1")
	f(agg+"state: {block_cache_size: 1}\n", "")
	f(agg+"state: {memtable_budget: 0}\n", "config k.yml:4: state.memtable_budget: must be >= 2097152 (two memtables of 1 MiB), got 0")
	f(agg+"state: {memtable_budget: -1}\n", "config k.yml:4: state.memtable_budget: must be >= 2097152 (two memtables of 1 MiB), got -1")
	f(agg+"state: {memtable_budget: 2097151}\n", "config k.yml:4: state.memtable_budget: must be >= 2097152 (two memtables of 1 MiB), got 2097151")
	f(agg+"state: {memtable_budget: 2097152}\n", "")
	f(agg+"state: {memtable_budget: 9223372036854775807}\n", "")
	f(agg+"state: {dir: ''}\n", "config k.yml:4: state.dir: must be set (remove it for the default, data)")

	// memory.
	f(agg+"memory: {gc_percent: 0}\n", "config k.yml:4: memory.gc_percent: must be >= 1, got 0")
	f(agg+"memory: {gc_percent: -1}\n", "config k.yml:4: memory.gc_percent: must be >= 1, got -1")
	f(agg+"memory: {gc_percent: 1}\n", "")
	f(agg+"memory: {gc_percent: 9223372036854775807}\n", "")
	f(agg+"memory: {gc_percent: 100, ceiling: 1}\n", "config k.yml:4: memory.ceiling: unknown field (the fields here are gc_percent, limit)")
	f(agg+"memory: {limit: 0}\n", "")
	f(agg+"memory: {limit: -1}\n", "config k.yml:4: memory.limit: must be 0 (none) or >= 33554432 (32 MiB), got -1")
	f(agg+"memory: {limit: 1}\n", "config k.yml:4: memory.limit: must be 0 (none) or >= 33554432 (32 MiB), got 1")
	f(agg+"memory: {limit: 33554431}\n", "config k.yml:4: memory.limit: must be 0 (none) or >= 33554432 (32 MiB), got 33554431")
	f(agg+"memory: {limit: 33554432}\n", "")
	f(agg+"memory: {limit: 9223372036854775807}\n", "")

	// SASL needs a password: franz-go refuses an empty one at the first connection.
	f(agg+"kafka: {sasl: {mechanism: SCRAM-SHA-512, username: u}}\n", "config k.yml:4: kafka.sasl: password or password_file must be set (SASL SCRAM-SHA-512 needs a password)")
	f(agg+"kafka: {sasl: {mechanism: PLAIN, username: u, password: p}}\n", "")
	f(agg+"kafka: {sasl: {mechanism: PLAIN, username: u, password_file: /run/secrets/p}}\n", "")
	f(agg+"kafka: {tls: {key_file: k.pem}}\n", "config k.yml:4: kafka.tls.key_file: cert_file and key_file go together")
}

// The decoder's own checks (event.Schema.Validate) refuse these at start, after
// config check passed them: overlapping status ranges, empty path parts, a field
// read both as a value and as an object.
func TestEventFieldChecks(t *testing.T) {
	const agg = "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	f := func(events, want string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(agg+"events:\n"+events))
		if err == nil || err.Error() != want {
			t.Errorf("error for\n%s\n= %v\nwant %s", events, err, want)
		}
	}
	f("  status: {field: s, client_errors: [\"400-499\"], server_errors: [\"499-599\"]}\n",
		`config k.yml:5: events.status.server_errors[0]: "499-599" overlaps client_errors[0] ("400-499"): a status is a client or a server error, not both`)
	f("  status: {field: s, client_errors: []}\n",
		"config k.yml:5: events.status.client_errors: must list at least one range (remove it for the default)")
	f("  status: {field: s, server_errors: [\"500-9999999999\"]}\n",
		`config k.yml:5: events.status.server_errors[0]: "500-9999999999" is not a status range like "500-599" or "429"`)
	f("  value: {field: 'a..b'}\n", `config k.yml:5: events.value.field: "a..b" has an empty part (write fields as a.b.c)`)
	f("  timestamp: {field: '.ts'}\n", `config k.yml:5: events.timestamp.field: ".ts" has an empty part (write fields as a.b.c)`)
	f("  dimensions: [{name: d, field: 'labels.'}]\n", `config k.yml:5: events.dimensions[0].field: "labels." has an empty part (write fields as a.b.c)`)
	f("  dimensions: [{name: d, field: ''}]\n", `config k.yml:5: events.dimensions[0].field: must be set`)
	f("  timestamp: {field: meta}\n  dimensions: [{name: d, field: meta.host}]\n",
		`config k.yml:6: events.dimensions[0].field: "meta.host" is inside "meta", which events.timestamp.field reads as a value`)
	f("  status: {field: ''}\n", "config k.yml:5: events.status.field: must be set")
}

// events.min_timestamp: RFC 3339, after the epoch (0 would mean the decoder's
// default) and before now.
func TestMinTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const agg = "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	f := func(ts string, wantMs int64, wantErr string) {
		t.Helper()
		c, err := parse("k.yml", []byte(agg+"events: {min_timestamp: "+ts+"}\n"), func() time.Time { return now })
		switch {
		case wantErr != "":
			if err == nil || err.Error() != wantErr {
				t.Errorf("min_timestamp %s: error %v, want %s", ts, err, wantErr)
			}
		case err != nil:
			t.Errorf("min_timestamp %s: %v", ts, err)
		case c.EventSchema().MinTime != wantMs:
			t.Errorf("min_timestamp %s: MinTime %d, want %d", ts, c.EventSchema().MinTime, wantMs)
		}
	}
	f(`"2020-01-01T00:00:00Z"`, 1577836800000, "")
	f(`"2020-01-01T01:00:00+01:00"`, 1577836800000, "")
	f(`"1970-01-01T00:00:00.001Z"`, 1, "")
	f(`"2026-11-30T11:59:59.999Z"`, now.UnixMilli()-1, "")
	f(`"2026-11-30T12:00:00Z"`, 0, `config k.yml:4: events.min_timestamp: must be after 1970-01-01T00:00:00Z and before now, got 2026-11-30T12:00:00Z`)
	f(`"2300-01-01T00:00:00Z"`, 0, `config k.yml:4: events.min_timestamp: must be after 1970-01-01T00:00:00Z and before now, got 2300-01-01T00:00:00Z`)
	f(`"1970-01-01T00:00:00Z"`, 0, `config k.yml:4: events.min_timestamp: must be after 1970-01-01T00:00:00Z and before now, got 1970-01-01T00:00:00Z`)
	f(`"1969-12-31T23:59:59Z"`, 0, `config k.yml:4: events.min_timestamp: must be after 1970-01-01T00:00:00Z and before now, got 1969-12-31T23:59:59Z`)
	f(`"2020-01-01"`, 0, `config k.yml:4: events.min_timestamp: "2020-01-01" is not an RFC 3339 time like 2000-01-01T00:00:00Z`)
	f(`""`, 0, `config k.yml:4: events.min_timestamp: "" is not an RFC 3339 time like 2000-01-01T00:00:00Z`)
	f(`946684800000`, 0, `config k.yml:4: events.min_timestamp: "946684800000" is not an RFC 3339 time like 2000-01-01T00:00:00Z`)
}

// The new fields reach the decoder's schema, with their defaults when absent.
func TestEventSchemaLimits(t *testing.T) {
	c, err := Parse("k.yml", []byte("aggregations: [{name: a, window: {type: tumbling, size: 1m}}]\nevents: {dimensions: [{name: d}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.EventSchema()
	// 2000-01-01T00:00:00Z: 10957 days after the epoch.
	if s.MinTime != 10957*86400*1000 || s.MaxDimensionLength != 1024 || s.MaxSize != 1<<20 || s.MaxFutureSkew != 3600*1000 {
		t.Errorf("defaults: MinTime %d, MaxDimensionLength %d, MaxSize %d, MaxFutureSkew %d; want 946684800000, 1024, 1048576, 3600000",
			s.MinTime, s.MaxDimensionLength, s.MaxSize, s.MaxFutureSkew)
	}
	c, err = Parse("k.yml", []byte(`aggregations: [{name: a, window: {type: tumbling, size: 1m}}]
events: {dimensions: [{name: d}], max_dimension_length: 64, min_timestamp: "2021-06-01T00:00:00Z", max_size: 4096, max_future_skew: 5m}
`))
	if err != nil {
		t.Fatal(err)
	}
	s = c.EventSchema()
	if s.MinTime != 1622505600000 || s.MaxDimensionLength != 64 || s.MaxSize != 4096 || s.MaxFutureSkew != 300000 {
		t.Errorf("set: MinTime %d, MaxDimensionLength %d, MaxSize %d, MaxFutureSkew %d; want 1622505600000, 64, 4096, 300000",
			s.MinTime, s.MaxDimensionLength, s.MaxSize, s.MaxFutureSkew)
	}
}

// A field absent from the file takes its default; the same field set to 0 is
// validated as written (each of these was silently replaced by the default).
func TestExplicitZeros(t *testing.T) {
	const agg = "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	c, err := Parse("k.yml", []byte(agg))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Aggregations[0]
	if a.MaxKeys != DefaultMaxKeys || a.Retention != Duration(24*time.Hour) || c.Stream.CommitInterval != Duration(100*time.Millisecond) ||
		c.Stream.SessionTimeout != Duration(45*time.Second) || c.Kafka.FetchMaxWait != Duration(250*time.Millisecond) ||
		c.Kafka.FetchMaxBytes != 8<<20 || c.State.BlockCacheSize != 16<<20 || c.State.MemtableBudget != 32<<20 || c.Metrics.IdleWindows != 5 || c.Stream.ReplicationFactor != -1 ||
		c.Memory.GCPercent != 50 {
		t.Errorf("defaults not applied: %+v %+v", a, c)
	}
	for _, field := range []string{
		"    max_keys: 0", "    retention: 0s", "    anomaly: {alpha: 0}", "    anomaly: {warmup: 0}",
		"stream: {commit_interval: 0s}", "stream: {session_timeout: 0s}", "stream: {replication_factor: 0}",
		"stream: {input_topic: ''}", "stream: {dead_letter_topic: ''}", "stream: {output_topic: ''}", "stream: {application_id: ''}",
		"kafka: {fetch_max_wait: 0s}", "kafka: {fetch_max_bytes: 0}", "kafka: {fetch_max_partition_bytes: 0}",
		"state: {block_cache_size: 0}", "state: {memtable_budget: 0}", "state: {store: ''}", "metrics: {idle_windows: 0}", "memory: {gc_percent: 0}",
		"events: {max_size: 0}", "events: {max_dimension_length: 0}", "events: {max_future_skew: 0s}",
	} {
		if _, err := Parse("k.yml", []byte(agg+field+"\n")); err == nil {
			t.Errorf("%s accepted", strings.TrimSpace(field))
		}
	}
}

// Parses share no memory: changing one configuration does not change the
// defaults of the next (the default events and aggregations were shallow copies
// of one decoded example, and filling defaults wrote into it).
func TestDefaultsAreNotShared(t *testing.T) {
	c1, err := Parse("a.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c1.Events.Dimensions[0].Name = "changed"
	c1.Aggregations[0].Quantiles[0] = 0.7
	c1.Aggregations[0].Anomaly.Alpha = 0.9
	c2, err := Parse("b.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Events.Dimensions[0].Name != "endpoint" || c2.Aggregations[0].Quantiles[0] != 0.5 || c2.Aggregations[0].Anomaly.Alpha != 0.1 {
		t.Errorf("a change to one configuration reached the next: dimension %q, quantile %v, alpha %v",
			c2.Events.Dimensions[0].Name, c2.Aggregations[0].Quantiles[0], c2.Aggregations[0].Anomaly.Alpha)
	}
}

// Without aggregations, the example's apply; with an events section of its own
// they usually do not fit, and one error says so instead of a dozen.
func TestDefaultAggregationsNeedDefaultEvents(t *testing.T) {
	_, err := Parse("k.yml", []byte("events:\n  dimensions: [{name: host}]\n"))
	want := `config k.yml:1: aggregations: none given, and the default ones do not fit this events section (aggregations[0].group_by[0]: unknown dimension "endpoint" (define it under events.dimensions)); define aggregations for these events`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}

func TestComposeConfig(t *testing.T) {
	c, err := LoadFile("kwindow.compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Brokers[0] != "kafka:9092" || c.Stream.InstanceID != "kwindow-0" || len(c.Aggregations) != 3 {
		t.Errorf("compose config %+v", c)
	}
}

// The api section: a bad value is refused naming its field.
func TestAPIConfig(t *testing.T) {
	for _, c := range []struct{ yml, field string }{
		{"api: {advertised_url: 'kwindow:9897'}", "api.advertised_url"},
		{"api: {advertised_url: 'http://k:9897/api'}", "api.advertised_url"},
		{"api: {timeout: 0s}", "api.timeout"},
		{"api: {peer_timeout: 1m}", "api.peer_timeout"},
		{"api: {max_points: -1}", "api.max_points"},
		{"api: {max_keys: -5}", "api.max_keys"},
		{"api: {max_subscribers: -1}", "api.max_subscribers"},
		{"api: {peer_token: x}", "api.peer_token"},
	} {
		_, err := Parse("k.yml", []byte(c.yml))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want one naming %s", c.yml, err, c.field)
		}
	}
	c, err := Parse("k.yml", []byte("api: {advertised_url: 'https://kwindow-0.kwindow:9897', tokens_file: /t, peer_token: p}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Timeout.Millis() != 30000 || c.API.PeerTimeout.Millis() != 5000 || c.API.MaxPoints != 250000 || c.API.MaxKeys != 10000 {
		t.Errorf("defaults: %+v", c.API)
	}
}
