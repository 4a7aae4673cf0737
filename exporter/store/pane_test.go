package store

import "testing"

func TestPaneAgg(t *testing.T) {
	for _, v := range []int{0, 1, 7, 999} {
		name := PaneAgg("status_5m", v)
		agg, got, ok := ParsePaneAgg(name)
		if !ok || agg != "status_5m" || got != v {
			t.Errorf("ParsePaneAgg(%q) = %q, %d, %v", name, agg, got, ok)
		}
		if _, _, ok := ParseRollupAgg(name); ok {
			t.Errorf("%q parses as a rollup name", name)
		}
	}
	for _, name := range []string{"status_5m", "status_5m#", "#1", "status_5m#-1", "status_5m#01", "status_5m#x", "endpoint_1m@3600000"} {
		if agg, v, ok := ParsePaneAgg(name); ok {
			t.Errorf("ParsePaneAgg(%q) = %q, %d: want not a pane name", name, agg, v)
		}
	}
	// A pane variant's keys sort apart from the aggregation's windows.
	w := Key{Agg: "a", Group: []byte("g"), Start: 5}.Append(nil)
	p := Key{Agg: PaneAgg("a", 0), Group: []byte("g"), Start: 5}.Append(nil)
	if string(p) <= string(w) || string(p[:2]) == string(w[:2]) {
		t.Errorf("pane key %q does not sort after, apart from, window key %q", p, w)
	}
}
