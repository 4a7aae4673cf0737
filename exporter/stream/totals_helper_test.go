package stream

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// changelogTotals returns the running totals a changelog's records hold, by
// agg|group as the store encodes it: each key's latest total, made whole
// (engine.ResolveTotal) from its latest windows, as a restored task sees it. A
// tumbling aggregation's total is stored as a base that leaves out the key's
// windows from its End on; a hopping one's leaves out its pane variants
// (store.PaneAgg), and its windows, stored once closed, are not added.
func changelogTotals(t *testing.T, records []*kgo.Record) map[string]aggregate.Value {
	t.Helper()
	type id struct{ agg, group string }
	type start struct {
		pane int
		at   int64
	}
	bases := map[id]aggregate.Value{}
	windows := map[id]map[start]aggregate.Value{}
	paned := map[string]bool{}
	for _, r := range records {
		k, err := store.ParseKey(r.Key)
		if err != nil {
			continue // the watermarks' metadata record
		}
		at := start{0, k.Start}
		if agg, v, ok := store.ParsePaneAgg(k.Agg); ok {
			k.Agg, at.pane, paned[agg] = agg, v+1, true
		}
		i := id{k.Agg, string(k.Group)}
		var v aggregate.Value
		if r.Value != nil {
			if err := v.UnmarshalBinary(r.Value); err != nil {
				t.Fatalf("changelog record at %d/%d: %v", r.Partition, r.Offset, err)
			}
		}
		switch {
		case k.Start == engine.TotalStart:
			bases[i] = v
		case r.Value == nil:
			delete(windows[i], at)
		default:
			if windows[i] == nil {
				windows[i] = map[start]aggregate.Value{}
			}
			windows[i][at] = v
		}
	}
	out := map[string]aggregate.Value{}
	for i, v := range bases {
		if v.Agg == nil {
			continue
		}
		out[i.agg+"|"+i.group] = engine.ResolveTotal(v, func(from int64, fn func(aggregate.Value)) {
			for at, w := range windows[i] {
				if at.at >= from && (at.pane > 0) == paned[i.agg] {
					fn(w)
				}
			}
		})
	}
	return out
}
