package query

import (
	"fmt"
	"regexp"

	"github.com/kwindow/kwindow/exporter/store"
)

// Op is how a Matcher compares a dimension's value.
type Op uint8

// The operators, as Prometheus label matchers.
const (
	Equal     Op = iota // =
	NotEqual            // !=
	Regexp              // =~, anchored at both ends
	NotRegexp           // !~, anchored at both ends
)

var opNames = [...]string{Equal: "=", NotEqual: "!=", Regexp: "=~", NotRegexp: "!~"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Matcher selects the keys whose dimension Dim compares to Value by Op. A
// regular expression (RE2 syntax) must match the whole value, as in PromQL.
type Matcher struct {
	Dim   string
	Op    Op
	Value string
}

func (m Matcher) String() string { return fmt.Sprintf("%s%s%q", m.Dim, m.Op, m.Value) }

// filter is the compiled matchers of one query over one aggregation's keys.
type filter struct {
	ms []compiled
	// exact is the encoded group when the matchers pin every dimension with =:
	// the query reads that one key with a range scan instead of every key.
	exact   []byte
	isExact bool
}

type compiled struct {
	dim int
	op  Op
	val string
	re  *regexp.Regexp
}

// compileFilter checks the matchers against aggregation a; param names them in
// errors ("filters").
func compileFilter(a *aggInfo, param string, ms []Matcher) (*filter, error) {
	f := &filter{}
	eq := make([][]byte, len(a.groupBy))
	pinned, conflict := 0, false
	for i, m := range ms {
		p := fmt.Sprintf("%s[%d]", param, i)
		d, err := a.dim(p, m.Dim)
		if err != nil {
			return nil, err
		}
		c := compiled{dim: d, op: m.Op, val: m.Value}
		switch m.Op {
		case Equal:
			if eq[d] != nil && string(eq[d]) != m.Value {
				conflict = true // no key matches; match says so
			}
			if eq[d] == nil {
				eq[d] = []byte(m.Value)
				pinned++
			}
		case NotEqual:
		case Regexp, NotRegexp:
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				return nil, badQuery(p, "bad regular expression %q: %v", m.Value, err)
			}
			c.re = re
		default:
			return nil, badQuery(p, "unknown operator %d (want =, !=, =~ or !~)", m.Op)
		}
		f.ms = append(f.ms, c)
	}
	if pinned == len(a.groupBy) && !conflict {
		f.exact, f.isExact = store.AppendGroup(nil, eq...), true
	}
	return f, nil
}

// match reports whether the key with dimension values vals passes every matcher.
func (f *filter) match(vals [][]byte) bool {
	for _, c := range f.ms {
		v := vals[c.dim]
		var ok bool
		switch c.op {
		case Equal:
			ok = string(v) == c.val
		case NotEqual:
			ok = string(v) != c.val
		case Regexp:
			ok = c.re.Match(v)
		case NotRegexp:
			ok = !c.re.Match(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// compileGroupBy returns, for each dimension in by, its index in a's group_by.
// nil (or empty) merges every key into one series.
func compileGroupBy(a *aggInfo, param string, by []string) ([]int, error) {
	idx := make([]int, 0, len(by))
	for i, d := range by {
		j, err := a.dim(fmt.Sprintf("%s[%d]", param, i), d)
		if err != nil {
			return nil, err
		}
		for _, k := range idx {
			if k == j {
				return nil, badQuery(fmt.Sprintf("%s[%d]", param, i), "dimension %q listed twice", d)
			}
		}
		idx = append(idx, j)
	}
	return idx, nil
}

// project appends the encoding of the values vals[idx...] to dst: the series
// key of a key's values under a group-by.
func project(dst []byte, vals [][]byte, idx []int) []byte {
	for _, i := range idx {
		dst = store.AppendGroup(dst, vals[i])
	}
	return dst
}

// keyStrings decodes a series key written by project.
func keyStrings(enc []byte) []string {
	vals, err := store.SplitGroup(enc)
	if err != nil {
		return nil // project wrote it
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}
