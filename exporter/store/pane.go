package store

import (
	"strconv"
	"strings"
)

// PaneSep separates an aggregation's name from a variant in the name its
// hopping panes are stored under (see PaneAgg).
const PaneSep = '#'

// PaneAgg is the name under which stage 2 keeps the panes of hopping
// aggregation agg that are still needed by an open window: agg#0, agg#1...
//
// A hopping window [s, s+size) is the merge of its panes, slices of
// gcd(size, advance) milliseconds. Stage 1 sends each pane with the start of
// the earliest window it goes to (the windows before that had closed on its
// input partition), so a pane may come in variants: variant v of the pane
// starting at p goes to the windows holding p from the v-th on, oldest first
// (window.Spec.Assign(nil, p)[v:]). A pane is stored under PaneAgg(agg, v) at
// Key.Start p, its Value ending at p + gcd(size, advance). A window that has
// closed is stored whole under agg itself, and the panes no open window needs
// any more are deleted.
//
// Aggregation names are [a-zA-Z_][a-zA-Z0-9_]*, so no pane name is a user's
// aggregation name or a rollup's (RollupAgg); keys begin with the name and 0x00,
// so each variant's keys form their own range, apart from the aggregation's
// windows.
func PaneAgg(agg string, variant int) string {
	return agg + string(PaneSep) + strconv.Itoa(variant)
}

// ParsePaneAgg splits a name made by PaneAgg; ok is false for any other name.
func ParsePaneAgg(name string) (agg string, variant int, ok bool) {
	agg, v, found := strings.Cut(name, string(PaneSep))
	if !found || agg == "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || strconv.Itoa(n) != v {
		return "", 0, false
	}
	return agg, n, true
}
