package client

import (
	"fmt"
	"strconv"
	"strings"
)

// MatchOp is how a Matcher compares, as in Prometheus label matchers.
type MatchOp string

// The operators. A regular expression (RE2) must match the whole value.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher selects keys by one dimension's value: a match[] parameter.
type Matcher struct {
	Dim   string
	Op    MatchOp
	Value string
}

// Eq, Ne, Re and Nre return matchers.
func Eq(dim, v string) Matcher  { return Matcher{dim, MatchEqual, v} }
func Ne(dim, v string) Matcher  { return Matcher{dim, MatchNotEqual, v} }
func Re(dim, v string) Matcher  { return Matcher{dim, MatchRegexp, v} }
func Nre(dim, v string) Matcher { return Matcher{dim, MatchNotRegexp, v} }

// String is the Prometheus syntax ParseMatchers reads: region=~"eu-.*".
func (m Matcher) String() string { return m.Dim + string(m.Op) + strconv.Quote(m.Value) }

// ParseMatchers reads one match[] parameter: a single matcher in Prometheus'
// syntax, endpoint="/api/x" or region=~"eu-.*", or a selector of several,
// {endpoint="/api/x", region!~"us-.*"}. Values are quoted with double quotes
// (Go escapes, read by strconv.Unquote), single quotes (the same escapes, with
// \' for a quote) or backquotes (raw). Spaces around the parts are ignored.
func ParseMatchers(s string) ([]Matcher, error) {
	p := matchParser{s: s}
	p.space()
	var ms []Matcher
	if p.peek() == '{' {
		p.i++
		for {
			p.space()
			if p.peek() == '}' {
				p.i++
				break
			}
			m, err := p.matcher()
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
			p.space()
			switch p.peek() {
			case ',':
				p.i++
			case '}':
			default:
				return nil, p.fail("want , or } after a matcher")
			}
		}
	} else {
		m, err := p.matcher()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if p.space(); p.i != len(s) {
		return nil, p.fail("unexpected text after the matcher")
	}
	if len(ms) == 0 {
		return nil, p.fail("no matcher in {}")
	}
	return ms, nil
}

type matchParser struct {
	s string
	i int
}

func (p *matchParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *matchParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *matchParser) fail(msg string) error {
	return fmt.Errorf("%q at offset %d: %s (want dimension=\"value\", with =, !=, =~ or !~)", p.s, p.i, msg)
}

func (p *matchParser) matcher() (Matcher, error) {
	var m Matcher
	start := p.i
	for p.i < len(p.s) && isNameByte(p.s[p.i], p.i == start) {
		p.i++
	}
	if p.i == start {
		return m, p.fail("want a dimension name")
	}
	m.Dim = p.s[start:p.i]
	p.space()
	for _, op := range []MatchOp{MatchRegexp, MatchNotRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(p.s[p.i:], string(op)) {
			m.Op = op
			p.i += len(op)
			break
		}
	}
	if m.Op == "" {
		return m, p.fail("want an operator after " + strconv.Quote(m.Dim))
	}
	p.space()
	v, err := p.quoted()
	if err != nil {
		return m, err
	}
	m.Value = v
	return m, nil
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// quoted reads a quoted value.
func (p *matchParser) quoted() (string, error) {
	q := p.peek()
	if q != '"' && q != '\'' && q != '`' {
		return "", p.fail("want a quoted value")
	}
	start := p.i
	end := -1
	for j := start + 1; j < len(p.s); j++ {
		if p.s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if p.s[j] == q {
			end = j
			break
		}
	}
	if end < 0 {
		return "", p.fail("unterminated quoted value")
	}
	p.i = end + 1
	lit := p.s[start : end+1]
	if q == '\'' {
		lit = singleToDouble(lit[1 : len(lit)-1])
	}
	v, err := strconv.Unquote(lit)
	if err != nil {
		p.i = start
		return "", p.fail("bad escape in quoted value")
	}
	return v, nil
}

// singleToDouble rewrites the inside of a single-quoted value as a
// double-quoted Go string literal.
func singleToDouble(in string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(in); i++ {
		switch c := in[i]; {
		case c == '\\' && i+1 < len(in) && in[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\\' && i+1 < len(in):
			b.WriteByte(c)
			b.WriteByte(in[i+1])
			i++
		case c == '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
