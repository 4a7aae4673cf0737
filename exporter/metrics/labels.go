package metrics

import (
	"cmp"
	"slices"

	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/store"
)

// Label pairs are built once per key, sorted by name as the registry wants them, and shared by every series and scrape:
// a scrape allocates no label pairs. They are never modified once built.

// Names of the labels kwindow adds to the group-by dimensions.
var (
	className    = "class"
	measureName  = "measure"
	quantileName = config.QuantileLabel
	clientValue  = "client"
	serverValue  = "server"
	clientPair   = &dto.LabelPair{Name: &className, Value: &clientValue}
	serverPair   = &dto.LabelPair{Name: &className, Value: &serverValue}
)

// keyLabels are the label pairs of one group key.
type keyLabels struct {
	vals  []string         // dimension values, in group_by order
	pairs []*dto.LabelPair // the dimensions, sorted by name
	// with holds the pairs with one label added: the class label's client and
	// server values when the aggregation counts errors, then each window
	// quantile (in the order of aggView.qpairs), then each anomaly measure; nil
	// for an aggregation with none of them. extraAt says where each starts.
	with [][]*dto.LabelPair
}

// extraAt is where each kind of added label starts in keyLabels.with, the same
// for every key of an aggregation.
type extraAt struct{ quantiles, measures int }

func newExtraAt(errors bool, quantiles int) extraAt {
	e := extraAt{}
	if errors {
		e.quantiles = 2
	}
	e.measures = e.quantiles + quantiles
	return e
}

func (k *keyLabels) client() []*dto.LabelPair                    { return k.with[0] }
func (k *keyLabels) server() []*dto.LabelPair                    { return k.with[1] }
func (k *keyLabels) quantile(at extraAt, j int) []*dto.LabelPair { return k.with[at.quantiles+j] }
func (k *keyLabels) measure(at extraAt, j int) []*dto.LabelPair  { return k.with[at.measures+j] }

// dimLayout is how an aggregation's dimensions sort by name.
type dimLayout struct {
	order []int    // group_by indexes, by name
	names []string // the names in that order (the label pairs point into it)
	// after reports whether each extra label name sorts after every dimension:
	// a key-major scrape of a family with only such extra labels is sorted.
	after map[string]bool
}

func newDimLayout(groupBy []string) dimLayout {
	l := dimLayout{order: make([]int, len(groupBy)), after: map[string]bool{}}
	for i := range l.order {
		l.order[i] = i
	}
	slices.SortStableFunc(l.order, func(a, b int) int { return cmp.Compare(groupBy[a], groupBy[b]) })
	for _, i := range l.order {
		l.names = append(l.names, groupBy[i])
	}
	for _, extra := range []string{className, measureName, quantileName} {
		l.after[extra] = len(l.names) == 0 || extra > l.names[len(l.names)-1]
	}
	return l
}

// newKeyLabels decodes an encoded group key into its label pairs. A key that
// does not decode to one value per dimension (never written by the engine) gets
// empty values for the missing ones, so its series stay well-formed. The values
// share one string.
func (l *dimLayout) newKeyLabels(group string, measures, quantiles []*dto.LabelPair, errors bool) *keyLabels {
	raw, _ := store.SplitGroup([]byte(group))
	n := 0
	for i := range min(len(raw), len(l.order)) {
		n += len(raw[i])
	}
	buf := make([]byte, 0, n)
	for i := range min(len(raw), len(l.order)) {
		buf = append(buf, raw[i]...)
	}
	all := string(buf)
	k := &keyLabels{vals: make([]string, len(l.order))}
	at := 0
	for i := range k.vals {
		if i < len(raw) {
			k.vals[i] = all[at : at+len(raw[i])]
			at += len(raw[i])
		}
	}
	pairs := make([]dto.LabelPair, len(l.order))
	k.pairs = make([]*dto.LabelPair, len(l.order))
	for j, i := range l.order {
		pairs[j].Name, pairs[j].Value = &l.names[j], &k.vals[i]
		k.pairs[j] = &pairs[j]
	}
	var extra []*dto.LabelPair
	if errors {
		extra = append(extra, clientPair, serverPair)
	}
	extra = append(append(extra, quantiles...), measures...)
	if len(extra) > 0 {
		k.with = make([][]*dto.LabelPair, len(extra))
		for i, e := range extra {
			k.with[i] = withPairs(k.pairs, e)
		}
	}
	return k
}

// withPairs returns pairs (sorted by name) with extra (sorted by name) merged in.
func withPairs(pairs []*dto.LabelPair, extra ...*dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(pairs)+len(extra))
	i := 0
	for _, e := range extra {
		for i < len(pairs) && pairs[i].GetName() < e.GetName() {
			out = append(out, pairs[i])
			i++
		}
		out = append(out, e)
	}
	return append(out, pairs[i:]...)
}

// cmpPairs orders label sets as the registry sorts the series of a family: by
// the values of the labels in name order (both sets have the same names).
func cmpPairs(a, b []*dto.LabelPair) int {
	for i := range min(len(a), len(b)) {
		if c := cmp.Compare(a[i].GetValue(), b[i].GetValue()); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
