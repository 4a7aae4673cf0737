package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The file is read in two passes. shape walks the YAML node tree against the Go
// types of Config and reports, in config terms and with the line of each node,
// what yaml.v3 would report in Go terms ("field retension not found in type
// config.Aggregation", "cannot unmarshal !!str into int"): unknown fields (with
// the closest valid name), duplicate keys, values of the wrong kind. It also
// records which fields the file sets, so that defaults fill only the absent ones
// and an explicit 0 is validated as written. Then yaml.v3 decodes the same tree
// into the struct; it goes on past values of the wrong kind (leaving zeros that
// report drops), so one run finds every problem of the file.

// readDocument parses data into its one YAML document; nil for an empty file.
func readDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{File: name, Line: next.Line, Msg: "a second YAML document (after ---): a configuration is one document"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(name, err)
	}
	return &doc, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError rephrases a yaml.v3 parse error ("yaml: line 3: did not find
// expected key") as file:line.
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Msg: "not valid YAML: " + m[2]}
	}
	return &Error{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// shape is the first pass over a document.
type shape struct {
	probs   problems
	set     map[string]bool // paths of the fields the file sets (not null)
	nodes   int             // nodes visited, bounded: aliases can multiply them
	stopped bool
}

// maxNodes and maxProblems bound the walk: a document of aliases to aliases (a
// "billion laughs") would otherwise take forever. yaml.v3 bounds its own
// decoding the same way.
const (
	maxNodes    = 1_000_000
	maxProblems = 1000
)

func checkShape(doc *yaml.Node) *shape {
	s := &shape{set: map[string]bool{}}
	if doc != nil && len(doc.Content) > 0 {
		s.walk(doc.Content[0], reflect.TypeFor[Config](), "")
	}
	for _, p := range s.probs {
		if s.set[p.covers] {
			p.covers = "" // the file sets the suggested field too: its problems stand
		}
	}
	return s
}

// has reports whether the file sets path (a field path as in errors).
func (s *shape) has(path string) bool { return s.set[path] }

var durationType = reflect.TypeFor[Duration]()

func (s *shape) walk(n *yaml.Node, t reflect.Type, path string) {
	if s.nodes++; s.nodes > maxNodes || len(s.probs) >= maxProblems {
		if !s.stopped {
			s.stopped = true
			s.probs.at(n.Line, path, "stopped reading here: more than %d values (after expanding aliases) or %d problems", maxNodes, maxProblems)
		}
		return
	}
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // absent: the field keeps its zero value or default
	}
	s.set[path] = true
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			s.probs.at(n.Line, path, "must be a duration like 30s, 1m or 1h30m, got %s", describe(n))
		} else if _, err := parseDuration(n.Value); err != nil {
			s.probs.at(n.Line, path, "%v", err)
		}
	case t.Kind() == reflect.Struct:
		s.mapping(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.probs.at(n.Line, path, "must be a list such as [a, b], got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			s.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		s.scalar(n, t, path)
	}
}

func (s *shape) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	if n.Kind != yaml.MappingNode {
		s.probs.at(n.Line, path, "must be a mapping of %s, got %s", listFields(t, 6), describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			s.merge(v, t, path)
			continue
		}
		p := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			s.probs.at(k.Line, path, "a field name must be a plain word, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			s.probs.at(k.Line, p, "set twice (first on line %d)", first)
			s.probs[len(s.probs)-1].partial = true
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			msg, near := unknownField(k.Value, t)
			s.probs.at(k.Line, p, "%s", msg)
			if near != "" {
				s.probs[len(s.probs)-1].covers = join(path, near)
			}
			continue
		}
		s.walk(v, f, p)
	}
}

// merge walks the value of a merge key (<<: *anchor, or a list of them) as more
// fields of the same mapping.
func (s *shape) merge(v *yaml.Node, t reflect.Type, path string) {
	v = deref(v)
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	for _, src := range srcs {
		s.mapping(deref(src), t, path)
	}
}

// scalar checks a plain value by decoding it into its Go type, as the second pass
// will, and says what was wanted in config terms when that fails.
func (s *shape) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		s.probs.at(n.Line, path, "must be %s, got %s", kindName(t), describe(n))
		return
	}
	v := reflect.New(t)
	err := n.Decode(v.Interface())
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo, hi := intRange(t)
		switch {
		case n.Tag == "!!int" && err != nil:
			s.probs.at(n.Line, path, "must be between %d and %d, got %s", lo, hi, n.Value)
		case n.Tag == "!!float" && err == nil:
			if f, _ := strconv.ParseFloat(n.Value, 64); f != math.Trunc(f) {
				s.probs.at(n.Line, path, "must be a whole number, got %s", n.Value)
			}
		case err != nil:
			s.probs.at(n.Line, path, "must be %s, got %s", kindName(t), describe(n))
		}
		return
	}
	if err != nil {
		s.probs.at(n.Line, path, "must be %s, got %s", kindName(t), describe(n))
	}
}

func intRange(t reflect.Type) (int64, int64) {
	bits := t.Bits()
	return -1 << (bits - 1), 1<<(bits-1) - 1
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

// describe says what a node is, for "got ...".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML names of struct t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if name := yamlName(f); name != "" {
			m[name] = f.Type
		}
	}
	return m
}

// fieldNames are the YAML names of struct t's fields in declaration order.
func fieldNames(t reflect.Type) []string {
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if name := yamlName(f); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// listFields names the first max fields of t: "type, size, advance, gap".
func listFields(t reflect.Type, max int) string {
	names := fieldNames(t)
	if len(names) > max {
		return strings.Join(names[:max], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}
