package combine

import (
	"fmt"
	"github.com/kwindow/kwindow/exporter/config"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/event"
)

// lateEvents are inOrderEvents with one in 25 set back by 20 to 40 s or by 70 to
// 250 s: late for every window of the tumbling, session and sliding aggregations,
// and for some but not all windows of the hopping ones (5m/1m and 25s/10s). No
// event is set back by between 5 and 16 s, where a sliding event's left window is
// closed but its right window open (see reference).
func lateEvents(seed uint64, n int) []*event.Event {
	evs := inOrderEvents(seed, n)
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, ev := range evs {
		if rng.IntN(25) != 0 {
			continue
		}
		if rng.IntN(2) == 0 {
			ev.Time -= 20000 + int64(rng.IntN(20000))
		} else {
			ev.Time -= 70000 + int64(rng.IntN(180000))
		}
	}
	return evs
}

// TestLateness: events late at stage 1 (by the rules, computed from each input
// partition's own stream time in reference.refLate) are counted late, and only
// they; they reach the running totals, and of the windows only those still open
// at stage 1 (hopping); stage 2 never merges a part late.
func TestLateness(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 2000
	}
	events := lateEvents(3, n)
	cfg := testConfig(t)
	for _, inputs := range []int{1, 3} {
		for _, pt := range partitioners {
			name := fmt.Sprintf("%d inputs by %s", inputs, pt.name)
			parts := make([][]*event.Event, inputs)
			for i, ev := range events {
				in := pt.fn(i, ev, inputs)
				parts[in] = append(parts[in], ev)
			}
			every := make([]int, inputs)
			for i := range every {
				every[i] = 50 + 37*i
			}
			p := newPipeline(t, cfg, inputs, 2)
			p.run(parts, every)
			p.check(name)
			partial := 0 // hopping events late for some windows and not others
			for _, e := range p.processed {
				for _, a := range cfg.Aggregations[1:3] {
					if refLate(&a, e.ev.Time, e.s) && !refLateAll(&a, e.ev.Time, e.s) {
						partial++
					}
				}
			}
			var late uint64
			for _, n := range p.inLate {
				late += n
			}
			if partial < 20 || late < 200 {
				t.Errorf("%s: %d late, %d partly late hopping events: the test needs more", name, late, partial)
			}
		}
	}
}

// refLateAll reports whether a hopping event at t is late for every one of its
// windows at stream time s.
func refLateAll(a *config.Aggregation, t, s int64) bool {
	size, adv := a.Window.Size.Millis(), a.Window.Advance.Millis()
	last := floorDiv(t, adv) * adv // the latest window of t closes last
	return last+size+a.Grace.Millis() <= s
}
