package combine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/internal/windowref"
)

// lateEvents are inOrderEvents with one in 25 set back by 20 to 40 s or by 70 to
// 250 s: late for every window of the tumbling, session and sliding aggregations,
// and for some but not all windows of the hopping ones (5m/1m and 25s/10s); and
// one in 25 set back by 5 to 15 s, mostly between grace (5 s) and size + grace
// (15 s) behind its partition's stream time: late for the sliding aggregation at
// stage 1 (its left window is closed), though Kafka Streams' rule, which
// window.Windows.Add follows, would still put it in its right window.
func lateEvents(seed uint64, n int) []*event.Event {
	evs := inOrderEvents(seed, n)
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, ev := range evs {
		switch rng.IntN(25) {
		case 0:
			if rng.IntN(2) == 0 {
				ev.Time -= 20000 + int64(rng.IntN(20000))
			} else {
				ev.Time -= 70000 + int64(rng.IntN(180000))
			}
		case 1:
			ev.Time -= 5000 + int64(rng.IntN(10000))
		}
	}
	return evs
}

// TestLateness: events late at stage 1 (by the rules, computed from each input
// partition's own stream time in windowref.Late) are counted late, and only
// they; they reach the running totals, and of the windows only those still open
// at stage 1 (hopping), none for sliding and session; stage 2 never merges a part
// late. It needs sliding events late by the stage-1 rule and not by Kafka Streams'
// (see the package comment): with Kafka Streams' rule at stage 1 they would reach
// windows the reference leaves them out of, and this test fails.
func TestLateness(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 2000
	}
	events := lateEvents(3, n)
	cfg := testConfig(t)
	sliding := &cfg.Aggregations[4]
	for _, inputs := range []int{1, 3, 6} {
		for _, pt := range partitioners {
			for _, reps := range []int{1, 3} {
				name := fmt.Sprintf("%d inputs by %s, %d repartitions", inputs, pt.name, reps)
				parts := make([][]*event.Event, inputs)
				for i, ev := range events {
					in := pt.fn(i, ev, inputs)
					parts[in] = append(parts[in], ev)
				}
				every := make([]int, inputs)
				for i := range every {
					every[i] = 50 + 37*i
				}
				p := newPipeline(t, cfg, inputs, reps, 0)
				p.run(parts, every)
				p.check(name)
				if inputs > 1 && reps == 3 {
					for _, lanes := range []int{1, 3} {
						ps := newPipeline(t, cfg, inputs, reps, lanes)
						ps.run(parts, every)
						ps.check(fmt.Sprintf("%s, %d shared combiners", name, lanes))
					}
				}
				partial := 0 // hopping events late for some windows and not others
				band := 0    // sliding events late at stage 1, not by Kafka Streams' rule
				for _, e := range p.processed {
					for _, a := range cfg.Aggregations[1:3] {
						if windowref.Late(&a, e.Time, e.StreamTime) && !refLateAll(&a, e.Time, e.StreamTime) {
							partial++
						}
					}
					if windowref.Late(sliding, e.Time, e.StreamTime) && !refLateKafka(sliding, e.Time, e.StreamTime) {
						band++
					}
				}
				var late uint64
				for _, n := range p.inLate {
					late += n
				}
				if partial < 20 || band < n/50 || late < 200 {
					t.Errorf("%s: %d late, %d partly late hopping, %d sliding late by the left window only: the test needs more", name, late, partial, band)
				}
			}
		}
	}
}

// refLateKafka reports whether a sliding event at t is late at stream time s by
// Kafka Streams' rule: its right window [t+1, t+size+1] is closed.
func refLateKafka(a *config.Aggregation, t, s int64) bool {
	return t+1+a.Window.Size.Millis()+a.Grace.Millis() <= s
}

// refLateAll reports whether a hopping event at t is late for every one of its
// windows at stream time s.
func refLateAll(a *config.Aggregation, t, s int64) bool {
	size, adv := a.Window.Size.Millis(), a.Window.Advance.Millis()
	last := t / adv * adv // the latest window of t closes last (t > 0 here)
	return last+size+a.Grace.Millis() <= s
}
