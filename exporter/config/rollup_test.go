package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Rollups: tumbling only, each resolution a multiple of the one before, each
// retention at least the one before and at least resolution + grace, at most
// MaxRollups. want "" means accepted; otherwise the whole error.
func TestRollups(t *testing.T) {
	const head = "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    grace: 10s\n    retention: 24h\n    rollups:\n"
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
	f(head+"      - {resolution: 1h, retention: 30d}\n      - {resolution: 1d, retention: 400d}\n", "")
	f(head+"      - {resolution: 2m, retention: 24h}\n", "") // the smallest multiple, the same retention
	f(head+"      - {resolution: 1m, retention: 30d}\n",
		"config k.yml:7: aggregations[0].rollups[0].resolution: must be a multiple of window.size (1m) greater than it, so that its windows hold whole ones; got 1m")
	f(head+"      - {resolution: 90s, retention: 30d}\n",
		"config k.yml:7: aggregations[0].rollups[0].resolution: must be a multiple of window.size (1m) greater than it, so that its windows hold whole ones; got 1m30s")
	f(head+"      - {resolution: 1h, retention: 30d}\n      - {resolution: 90m, retention: 30d}\n",
		"config k.yml:8: aggregations[0].rollups[1].resolution: must be a multiple of rollups[0].resolution (1h) greater than it, so that its windows hold whole ones; got 1h30m")
	f(head+"      - {resolution: 1h, retention: 30d}\n      - {resolution: 1h, retention: 30d}\n",
		"config k.yml:8: aggregations[0].rollups[1].resolution: must be a multiple of rollups[0].resolution (1h) greater than it, so that its windows hold whole ones; got 1h")
	f(head+"      - {resolution: 0s, retention: 30d}\n",
		"config k.yml:7: aggregations[0].rollups[0].resolution: must be > 0, got 0s")
	f(head+"      - {resolution: -1h, retention: 30d}\n",
		"config k.yml:7: aggregations[0].rollups[0].resolution: must be > 0, got -1h")
	f(head+"      - {resolution: 1h, retention: 12h}\n",
		"config k.yml:7: aggregations[0].rollups[0].retention: must be >= retention (1d): coarser rollups are kept at least as long as finer data; got 12h")
	f(head+"      - {resolution: 1h, retention: 30d}\n      - {resolution: 1d, retention: 20d}\n",
		"config k.yml:8: aggregations[0].rollups[1].retention: must be >= rollups[0].retention (30d): coarser rollups are kept at least as long as finer data; got 20d")
	f("aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    grace: 10s\n    retention: 1m10s\n    rollups:\n      - {resolution: 1h, retention: 1h}\n",
		"config k.yml:7: aggregations[0].rollups[0].retention: must be >= resolution + grace (1h10s), got 1h")
	f(head+"      - {resolution: 1h}\n",
		"config k.yml:7: aggregations[0].rollups[0].retention: must be >= resolution + grace (1h10s), got 0s")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 5m, advance: 1m}\n    rollups:\n      - {resolution: 1h, retention: 30d}\n",
		"config k.yml:4: aggregations[0].rollups: only tumbling windows roll up (hopping windows overlap or vary in length, so their windows cannot be merged into coarser ones without counting events twice); got window.type hopping")
	f("aggregations:\n  - name: a\n    window: {type: session, gap: 5m}\n    rollups:\n      - {resolution: 1h, retention: 30d}\n",
		"config k.yml:4: aggregations[0].rollups: only tumbling windows roll up (session windows overlap or vary in length, so their windows cannot be merged into coarser ones without counting events twice); got window.type session")
	f(head+"      - {resolution: 1h, retention: 30d, resolutoin: 1d}\n",
		"config k.yml:7: aggregations[0].rollups[0].resolutoin: unknown field; did you mean resolution?")

	// At most MaxRollups: 8 accepted, 9 refused.
	many := func(n int) string {
		y, res := head, time.Minute
		for range n {
			res *= 2
			y += "      - {resolution: " + Duration(res).String() + ", retention: 1000d}\n"
		}
		return y
	}
	f(many(MaxRollups), "")
	f(many(MaxRollups+1), "config k.yml:6: aggregations[0].rollups: at most 8 rollups, got 9")
}

// Each resolution has its own changelog topic, checked for length like the
// aggregation's.
func TestRollupChangelogTopics(t *testing.T) {
	c, err := Parse("k.yml", []byte("stream: {application_id: app}\naggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    rollups:\n      - {resolution: 1h, retention: 30d}\n      - {resolution: 1d, retention: 400d}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := &c.Aggregations[0]
	if got := c.RollupChangelogTopic(a.Name, a.Rollups[0].Resolution); got != "app-a-rollup-1h-changelog" {
		t.Errorf("topic = %s", got)
	}
	if got := c.RollupChangelogTopic(a.Name, a.Rollups[1].Resolution); got != "app-a-rollup-1d-changelog" {
		t.Errorf("topic = %s", got)
	}
	// 200 + "-" + 30 + "-rollup-1h-changelog" (20) = 251 > 249; the aggregation's own is 241.
	app := strings.Repeat("p", 200)
	name := strings.Repeat("n", 30)
	_, err = Parse("k.yml", []byte(fmt.Sprintf("stream: {application_id: %s}\naggregations:\n  - name: %s\n    window: {type: tumbling, size: 1m}\n    rollups:\n      - {resolution: 1h, retention: 30d}\n", app, name)))
	want := fmt.Sprintf("config k.yml:6: aggregations[0].rollups[0].resolution: makes the changelog topic %s-%s-rollup-1h-changelog, 251 characters long; Kafka allows 249", app, name)
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

// The default configuration keeps hourly rollups of the aggregations with
// quantiles for 30 days; `rollups: []` turns them off.
func TestDefaultRollups(t *testing.T) {
	c := Default()
	for _, a := range c.Aggregations {
		want := 0
		if a.Window.Type == "tumbling" {
			want = 1
		}
		if len(a.Rollups) != want {
			t.Fatalf("%s: %d rollups by default, want %d", a.Name, len(a.Rollups), want)
		}
		if want == 1 && (time.Duration(a.Rollups[0].Resolution) != time.Hour || time.Duration(a.Rollups[0].Retention) != 30*24*time.Hour) {
			t.Fatalf("%s: default rollup %+v, want 1h kept 30d", a.Name, a.Rollups[0])
		}
	}
	off, err := Parse("k.yml", []byte("aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    rollups: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(off.Aggregations[0].Rollups); n != 0 {
		t.Fatalf("rollups: [] gives %d rollups", n)
	}
}
