package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// openAPIDoc fetches and decodes the server's document, as a user would.
func openAPIDoc(t *testing.T, s *server) map[string]any {
	t.Helper()
	code, hdr, body := s.get(t, Prefix+"openapi.json")
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", code, hdr.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	return doc
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

// TestOpenAPIRoutes: the document lists exactly the routes the server
// answers, with their methods; anything else is a 404.
func TestOpenAPIRoutes(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, randomEvents(8, 100, t0, hour), 1, t0+2*hour), query.Limits{}), Options{})
	doc := openAPIDoc(t, s)
	paths := obj(doc["paths"])
	var served []string
	for _, rt := range s.h.routes {
		served = append(served, rt.path)
	}
	if docPaths := slices.Sorted(maps.Keys(paths)); !slices.Equal(docPaths, slices.Sorted(slices.Values(served))) {
		t.Errorf("document paths %v, served %v", docPaths, served)
	}
	for path, ops := range paths {
		target := strings.ReplaceAll(path, "{name}", "req_1m")
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			_, documented := obj(ops)[strings.ToLower(m)]
			if m == http.MethodGet && path == Prefix+"stream" {
				continue // an open stream: TestOpenAPIParams reads it
			}
			var code int
			var body []byte
			if m == http.MethodGet {
				code, _, body = s.get(t, target+queryFor(path))
			} else {
				code, _, body = s.do(t, m, target, "application/json", []byte(`{"aggregation":"req_1m"}`))
			}
			switch {
			case documented && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed):
				t.Errorf("%s %s documented, answered %d %s", m, path, code, body)
			case !documented && code != http.StatusMethodNotAllowed:
				t.Errorf("%s %s not documented, answered %d %s", m, path, code, body)
			}
		}
	}
	for _, p := range []string{"/api/v1/query", "/api/v1/series", "/api/v1/labels", "/api/v1/aggregation"} {
		if code, _, _ := s.get(t, p); code != http.StatusNotFound {
			t.Errorf("%s: %d, not in the document", p, code)
		}
	}
}

// queryFor is the query string a route needs to answer 200.
func queryFor(path string) string {
	switch path {
	case Prefix + "values":
		return "?aggregation=req_1m&dimension=endpoint"
	case Prefix + "query_range", Prefix + "latest", Prefix + "topk":
		return "?aggregation=req_1m"
	}
	return ""
}

// TestOpenAPIParams: a request giving every documented parameter its example
// answers 200 (the examples work), reads every one of them, and reads no
// other: the handlers read what the document says, no more and no less.
func TestOpenAPIParams(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, randomEvents(9, 500, t0, hour), 2, t0+2*hour), query.Limits{}), Options{})
	doc := openAPIDoc(t, s)
	for _, rt := range s.h.routes {
		op := obj(obj(obj(doc["paths"])[rt.path])["get"])
		q := url.Values{}
		path := rt.path
		var documented []string
		for _, p := range asList(op["parameters"]) {
			pd := obj(p)
			name, ex := pd["name"].(string), fmt.Sprint(pd["example"])
			documented = append(documented, name)
			if pd["in"] == "path" {
				path = strings.ReplaceAll(path, "{"+name+"}", ex)
				continue
			}
			if ex == "<nil>" {
				t.Errorf("%s: parameter %s has no example", rt.path, name)
			}
			if pd["description"] == "" {
				t.Errorf("%s: parameter %s has no description", rt.path, name)
			}
			if list, ok := pd["example"].([]any); ok {
				// An array parameter: repeated (explode) or comma-separated.
				var vs []string
				for _, v := range list {
					vs = append(vs, fmt.Sprint(v))
				}
				if pd["explode"] == false {
					vs = []string{strings.Join(vs, ",")}
				}
				q[name] = vs
				continue
			}
			q.Set(name, ex)
		}
		if rt.path == Prefix+"stream" {
			go func() { close(<-s.b.subs) }()
		}
		code, _, body := s.get(t, path+"?"+q.Encode())
		if code != http.StatusOK {
			t.Errorf("%s with every example: %d %s", rt.path, code, body)
		}
		var read []string
		rt.read.Range(func(k, _ any) bool { read = append(read, k.(string)); return true })
		sort.Strings(read)
		sort.Strings(documented)
		if !slices.Equal(read, documented) {
			t.Errorf("%s: the handler read %v, the document has %v", rt.path, read, documented)
		}
	}
}

// TestOpenAPISchemas: real answers of every route, errors and stream events
// included, fit the document's schemas: every field they carry is in the
// schema with its type, and every field the schema requires is there.
func TestOpenAPISchemas(t *testing.T) {
	evs := randomEvents(10, 2000, t0, hour)
	// A key whose events carry no value: its quantiles are null.
	evs = append(evs, ev{t: t0 + 5*minute, dims: [3]string{"/novalue", "GET", "eu-west"}, status: 200, latency: -1})
	b := newBackend(t, newWorld(t, evs, 2, t0+30*minute), query.Limits{MaxKeys: 200, MaxPoints: 5000})
	s := newServer(t, b, Options{})
	doc := openAPIDoc(t, s)
	schemas := obj(obj(doc["components"])["schemas"])
	success := func(path string) map[string]any {
		return obj(obj(obj(obj(obj(obj(obj(obj(doc["paths"])[path])["get"])["responses"])["200"])["content"])["application/json"])["schema"])
	}
	check := func(what string, schema map[string]any, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v: %s", what, err, body)
		}
		for _, e := range fits(schemas, schema, v, "$") {
			t.Errorf("%s: %s", what, e)
		}
	}
	nulls := 0
	for _, tc := range []struct{ route, query string }{
		{"status", ""},
		{"aggregations", ""},
		{"aggregations/{name}", "hop_5m"},
		{"values", "?aggregation=req_1m&dimension=endpoint&limit=2"},
		{"query_range", "?aggregation=req_1m&measure=count,p99,avg,error_ratio,rate&group_by=endpoint&step=5m"},
		{"latest", "?aggregation=req_1m&measure=p50,max&since=1795342800"},
		{"topk", "?aggregation=req_1m&measure=p99&k=3&bottom=true"},
	} {
		path := strings.Replace(Prefix+tc.route, "{name}", tc.query, 1)
		if strings.Contains(tc.route, "{") {
			tc.query = ""
		}
		code, _, body := s.get(t, path+tc.query)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		nulls += strings.Count(string(body), ":null")
		check(tc.route, success(Prefix+tc.route), body)
	}
	if nulls == 0 {
		t.Error("no answer had a null: the test does not check nullable fields")
	}

	errEnv := obj(schemas["ErrorEnvelope"])
	for path, want := range map[string]int{"query_range?aggregation=req_1m&step=0": 400, "query_range?aggregation=req_1m&step=100ms": 422,
		"nope": 404, "aggregations/nope": 404} {
		code, _, body := s.get(t, Prefix+path)
		if code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
		check(path, errEnv, body)
	}
	_, _, body := s.do(t, http.MethodDelete, Prefix+"status", "", nil)
	check("405", errEnv, body)
	b.set(func() { b.restoring = map[int32]int64{0: 5} })
	_, _, body = s.get(t, Prefix+"latest?aggregation=req_1m")
	check("503", errEnv, body)

	// The stream's events.
	b.set(func() { b.restoring = nil })
	resp, err := s.Client().Get(s.URL + Prefix + "stream?aggregation=req_1m&measure=count,p99")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sub := s.subscription(t)
	a := aggregate.New(sketch.DefaultSchema, true)
	a.Add((&ev{t: t0, status: 200, latency: 0.02}).event())
	up := WindowUpdate{Aggregation: "req_1m", Key: []string{"/a", "GET", "eu-west"}, Start: t0, End: t0 + minute, Last: t0, Agg: a, Partial: true, CommittedAt: t0 + 1}
	sub <- StreamEvent{Update: &up}
	sub <- StreamEvent{Dropped: "instance shutting down"}
	sc := bufio.NewScanner(resp.Body)
	var name string
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			name = n
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			seen++
			switch name {
			case "update":
				check("update event", map[string]any{"$ref": "#/components/schemas/WindowUpdate"}, []byte(data))
			case "dropped":
				check("dropped event", map[string]any{"$ref": "#/components/schemas/Dropped"}, []byte(data))
			default:
				t.Errorf("event %q", name)
			}
		}
	}
	if seen != 2 {
		t.Errorf("%d events", seen)
	}
}

// fits lists how v departs from an OpenAPI 3.0 schema (the subset the
// document uses: $ref, allOf, oneOf, nullable, type, properties, required,
// additionalProperties, items, enum).
func fits(schemas, s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target := obj(schemas[name])
		if target == nil {
			return []string{at + ": dangling " + ref}
		}
		return fits(schemas, target, v, at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return []string{at + ": null, but the schema is not nullable"}
	}
	var errs []string
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, fits(schemas, obj(sub), v, at)...)
	}
	if alts := asList(s["oneOf"]); alts != nil {
		n := 0
		for _, sub := range alts {
			if len(fits(schemas, obj(sub), v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, fmt.Sprintf("%s: %v fits %d of oneOf", at, v, n))
		}
	}
	if enum := asList(s["enum"]); enum != nil && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v not in %v", at, v, enum))
	}
	switch s["type"] {
	case nil:
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want an object", at, v))
		}
		props := obj(s["properties"])
		for k, fv := range m {
			ps := obj(props[k])
			if ps == nil {
				ps = obj(s["additionalProperties"])
			}
			if ps == nil {
				errs = append(errs, fmt.Sprintf("%s: field %q is not in the schema", at, k))
				continue
			}
			errs = append(errs, fits(schemas, ps, fv, at+"."+k)...)
		}
		for _, r := range asList(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field %q missing", at, r))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want an array", at, v))
		}
		for i, e := range l {
			errs = append(errs, fits(schemas, obj(s["items"]), e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string", "boolean", "number", "integer":
		ok := false
		switch x := v.(type) {
		case string:
			ok = s["type"] == "string"
		case bool:
			ok = s["type"] == "boolean"
		case float64:
			ok = s["type"] == "number" || s["type"] == "integer" && x == math.Trunc(x)
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: %v (%T), want a %s", at, v, v, s["type"]))
		}
	default:
		errs = append(errs, fmt.Sprintf("%s: unknown type %v", at, s["type"]))
	}
	return errs
}

func asList(v any) []any { l, _ := v.([]any); return l }

// TestOpenAPIFieldDocs: every field description names a field of the
// document, and the document is valid OpenAPI 3.0.
func TestOpenAPIFieldDocs(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, nil, 1, t0), query.Limits{}), Options{})
	doc := openAPIDoc(t, s)
	schemas := obj(obj(doc["components"])["schemas"])
	for key, want := range fieldDocs {
		typ, field, _ := strings.Cut(key, ".")
		found := false
		for name, sc := range schemas {
			if got := obj(obj(obj(sc)["properties"])[field]); (name == typ || typ == "Coverage") && got != nil && got["description"] == want {
				found = true
			}
		}
		if !found {
			t.Errorf("fieldDocs[%q] is not in the document", key)
		}
	}
	// And it is a valid OpenAPI 3.0 document, as kin-openapi (the Go
	// ecosystem's OpenAPI library) loads and validates it.
	_, _, body := s.get(t, Prefix+"openapi.json")
	loaded, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("kin-openapi cannot load the document: %v", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Errorf("kin-openapi: the document is not valid OpenAPI 3: %v", err)
	}
}
