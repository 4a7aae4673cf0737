package api

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// param is a parameter a route declares: what it reads, and what the OpenAPI
// document says.
type param struct {
	name     string
	in       string // "query" (the default) or "path"
	kind     kind
	required bool
	desc     string
	example  string
}

// kind is how a parameter is written.
type kind uint8

const (
	kString   kind = iota
	kRepeated      // may be given several times
	kCSV           // a comma-separated list
	kTime          // RFC 3339 or unix seconds
	kDuration      // 1m, 1h30m, or seconds
	kInt
	kBool
)

// Bounds of the times the API takes: the years 1 to 9999, so that every time
// it echoes is one RFC 3339 can write.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

// maxBody bounds a POST body.
const maxBody = 1 << 20

// params reads a request's parameters for one route. Each reader records the
// first problem in err, so a handler reads everything, then checks err once.
type params struct {
	rt  *route
	r   *http.Request
	v   url.Values
	err error
}

// readParams collects the query string and, for a POST, the body (a form, or a
// JSON object whose fields are the parameters), and refuses parameters the
// route does not declare.
func readParams(r *http.Request, rt *route) (*params, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("query", "the query string is malformed: %v", err)
	}
	if r.Method == http.MethodPost {
		if err := readBody(r, v); err != nil {
			return nil, err
		}
	}
	var unknown []string
	for name := range v {
		if !slices.ContainsFunc(rt.params, func(p param) bool { return p.name == name && p.in != "path" }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		name := unknown[0]
		if name == "" {
			return nil, badParam("query", "a parameter without a name (%q)", "="+v.Get(""))
		}
		msg := "unknown parameter"
		if slices.ContainsFunc(rt.params, func(p param) bool { return p.name == name+"[]" }) {
			msg += "; did you mean " + name + "[]?"
		}
		var names []string
		for _, p := range rt.params {
			if p.in != "path" {
				names = append(names, p.name)
			}
		}
		if len(names) == 0 {
			return nil, badParam(name, "%s: %s takes no parameters", msg, rt.path)
		}
		return nil, badParam(name, "%s: %s takes %s", msg, rt.path, strings.Join(names, ", "))
	}
	return &params{rt: rt, r: r, v: v}, nil
}

func readBody(r *http.Request, v url.Values) error {
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var fields map[string]json.RawMessage
		if err := json.NewDecoder(body).Decode(&fields); err != nil {
			return badParam("body", "not a JSON object of parameters: %v", err)
		}
		for name, raw := range fields {
			vals, err := jsonParam(raw)
			if err != nil {
				return badParam(name, "%v", err)
			}
			v[name] = append(v[name], vals...)
		}
	case "application/x-www-form-urlencoded", "":
		b, err := io.ReadAll(body)
		if err != nil {
			return badParam("body", "%v", err)
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return badParam("body", "the form is malformed: %v", err)
		}
		for name, vals := range form {
			v[name] = append(v[name], vals...)
		}
	default:
		return badParam("body", "content type %q: send application/json or application/x-www-form-urlencoded", ct)
	}
	return nil
}

// jsonParam turns a JSON body field into parameter values: a string, number or
// boolean is one, an array of them several, null none.
func jsonParam(raw json.RawMessage) ([]string, error) {
	var x any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	scalar := func(x any) (string, bool) {
		switch x := x.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	}
	switch x := x.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				return nil, fmt.Errorf("want a string, number or boolean in the array")
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalar(x)
	if !ok {
		return nil, fmt.Errorf("want a string, number, boolean or an array of them")
	}
	return []string{s}, nil
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// values returns the values of a declared parameter, recording the read.
func (p *params) values(name string) []string {
	p.record(name)
	return p.v[name]
}

// record notes that the route's handler reads name (TestOpenAPIParams
// compares the names with the document).
func (p *params) record(name string) {
	if _, ok := p.rt.read.Load(name); !ok {
		p.rt.read.Store(name, true)
	}
}

// str is a parameter given at most once.
func (p *params) str(name string) string {
	vs := p.values(name)
	if len(vs) > 1 {
		p.fail(badParam(name, "given %d times; give it once", len(vs)))
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// has reports whether the parameter is given.
func (p *params) has(name string) bool { return len(p.values(name)) > 0 }

// path is a path parameter.
func (p *params) path(name string) string {
	p.record(name)
	return p.r.PathValue(name)
}

// list is a repeatable parameter whose values may also be comma-separated,
// without empty entries.
func (p *params) list(name string) []string {
	var out []string
	for _, v := range p.values(name) {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// time is a time parameter in unix ms; def when absent.
func (p *params) time(name string, def int64) int64 {
	s := p.str(name)
	if s == "" {
		return def
	}
	t, err := parseTime(s)
	if err != nil {
		p.fail(badParam(name, "%v", err))
	}
	return t
}

// parseTime reads RFC 3339 or unix seconds, as Prometheus' API does, to the
// millisecond.
func parseTime(s string) (int64, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	ts, err := client.ParseTimestamp(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-20T15:04:05Z) nor unix seconds (1795341600.5)", s)
	}
	if int64(ts) < minTime || int64(ts) > maxTime {
		return 0, fmt.Errorf("%q is out of range (years 1 to 9999)", s)
	}
	return int64(ts), nil
}

// duration is a step in ms: a Prometheus duration (1m, 1h30m, 1d), a Go
// duration (1m30s, 1.5s), or seconds (60, 0.5). ok is false when absent.
func (p *params) duration(name string) (ms int64, ok bool) {
	s := p.str(name)
	if s == "" {
		return 0, false
	}
	ms, err := parseDuration(s)
	if err != nil {
		p.fail(badParam(name, "%v", err))
	}
	return ms, true
}

func parseDuration(s string) (int64, error) {
	var d time.Duration
	if md, err := model.ParseDuration(s); err == nil {
		d = time.Duration(md)
	} else if gd, err := time.ParseDuration(s); err == nil {
		d = gd
	} else if ts, err := client.ParseTimestamp(s); err == nil {
		if ts <= 0 {
			return 0, fmt.Errorf("must be > 0, got %q", s)
		}
		if int64(ts) > math.MaxInt64/int64(time.Millisecond) {
			return 0, fmt.Errorf("%q is too long (at most 292y)", s)
		}
		return int64(ts), nil
	} else {
		return 0, fmt.Errorf("%q is not a duration like 1m, 1h30m or 90 (seconds)", s)
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("must be > 0, got %q", s)
	case d%time.Millisecond != 0:
		return 0, fmt.Errorf("%q: must be whole milliseconds", s)
	}
	return d.Milliseconds(), nil
}

// int is an integer parameter; def when absent.
func (p *params) int(name string, def int) int {
	s := p.str(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.fail(badParam(name, "%q is not an integer", s))
	}
	return n
}

// boolean is a boolean parameter: true, false, 1, 0; false when absent.
func (p *params) boolean(name string) bool {
	s := p.str(name)
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(badParam(name, "%q is not true or false", s))
	}
	return b
}
