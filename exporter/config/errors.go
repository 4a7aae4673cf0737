package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem of a configuration file, at a field path such as
// aggregations[1].window.size and the line that holds it (or its nearest parent
// present in the file, when the value was defaulted). Parse joins every Error of a
// file, in line order, with errors.Join; errors.As finds the first.
type Error struct {
	File string
	Line int // 0 when unknown
	Path string
	Msg  string
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Path == "" {
		return "config " + where + ": " + e.Msg
	}
	return "config " + where + ": " + e.Path + ": " + e.Msg
}

// fieldError is a problem at a path, before the file name and line are known.
// line is set by the decoder, which knows the node; validation leaves it 0 and
// the line is looked up from the path.
type fieldError struct {
	path string
	msg  string
	line int
	// covers is the path of a field this problem explains the absence of (an
	// unknown field "retension" covers retention): validation's complaints
	// about that field are dropped.
	covers string
	// partial: the decoder leaves out what holds this problem (yaml.v3 drops a
	// mapping with a key set twice), so validating the rest would report
	// consequences, not problems.
	partial bool
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

// problems collects fieldErrors.
type problems []*fieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &fieldError{path: path, msg: fmt.Sprintf(format, args...)})
}

func (p *problems) at(line int, path, format string, args ...any) {
	*p = append(*p, &fieldError{path: path, msg: fmt.Sprintf(format, args...), line: line})
}

// report turns problems into the joined Errors of file name, in line order; a
// problem at or under a path the decoder already refused (a value that did not
// parse, so validation saw a zero in its place) is dropped as a consequence.
func report(name string, root *yaml.Node, decodeProbs, valProbs problems) error {
	var errs []*Error
	for _, p := range decodeProbs {
		errs = append(errs, &Error{File: name, Line: p.line, Path: p.path, Msg: p.msg})
	}
	for _, p := range valProbs {
		if slices.ContainsFunc(decodeProbs, func(d *fieldError) bool {
			return within(p.path, d.path) || d.covers != "" && within(p.path, d.covers)
		}) {
			continue
		}
		line := p.line
		if line == 0 {
			line = lineOf(root, p.path)
		}
		errs = append(errs, &Error{File: name, Line: line, Path: p.path, Msg: p.msg})
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// within reports whether path is p or lies under it (p.x, p[3]).
func within(path, p string) bool {
	rest, ok := strings.CutPrefix(path, p)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

var segRE = regexp.MustCompile(`([a-zA-Z_]+)|\[(\d+)\]`)

// lineOf finds the line of a path like aggregations[1].window.size in the document,
// or of its nearest parent present in it.
func lineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, m := range segRE.FindAllStringSubmatch(path, -1) {
		n = deref(n)
		var next *yaml.Node
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			if k, v := lookup(n, m[1]); k != nil {
				line, next = k.Line, v
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// lookup finds key in mapping n, following merge keys (<<) as yaml does: an
// explicit key wins over a merged one.
func lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case key:
			return n.Content[i], n.Content[i+1]
		case "<<":
			merges = append(merges, n.Content[i+1])
		}
	}
	for _, m := range merges {
		m = deref(m)
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			if s = deref(s); s.Kind == yaml.MappingNode {
				if k, v := lookup(s, key); k != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}
