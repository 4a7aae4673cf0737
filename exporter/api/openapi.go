package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// openAPI builds the OpenAPI 3.0 document from the routes: their parameters
// as declared, and the schemas of their answers from the wire types by
// reflection, so the document cannot miss a route, a parameter or a field
// (TestOpenAPI checks it against what the handlers read and write).
func (h *handler) openAPI() []byte {
	g := &schemaGen{schemas: map[string]any{}}
	paths := map[string]any{}
	for _, rt := range h.routes {
		ops := map[string]any{}
		for _, m := range rt.methods {
			ops[strings.ToLower(m)] = g.operation(rt, m)
		}
		paths[rt.path] = ops
	}
	g.of(reflect.TypeFor[client.WindowUpdate]())
	g.of(reflect.TypeFor[client.Dropped]())
	errSchema := map[string]any{
		"type": "object", "required": []string{"status", "error"},
		"properties": map[string]any{
			"status": map[string]any{"type": "string", "enum": []string{"error"}},
			"error":  g.of(reflect.TypeFor[client.ErrorInfo]()),
		},
	}
	g.schemas["ErrorEnvelope"] = errSchema
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "kwindow query API",
			"version": cmpOrString(h.o.Version, "dev"),
			"description": "Interactive queries over kwindow's windowed aggregates, answered from the state stores of the whole consumer group by whichever instance is asked.\n\n" +
				"Answers are envelopes as in Prometheus' API: {\"status\":\"success\",\"data\":...} or {\"status\":\"error\",\"error\":{\"code\",\"message\",\"param\"}}. " +
				"Error codes: bad_query (400, param names the parameter), unauthorized (401), not_found (404), method_not_allowed (405), limit_exceeded (422, limit names it), " +
				"internal (500), unavailable (503, with Retry-After and the partitions; stale=true reads restoring partitions instead), timeout (504, api.timeout).\n\n" +
				"Times are RFC 3339 or unix seconds in parameters, unix seconds with millisecond precision in answers. Durations are Prometheus durations (1m, 1h30m). " +
				"A measure's value is a JSON number, null when there is none (NaN: a ratio over no events, a quantile over no values), \"+Inf\" or \"-Inf\" for infinities. " +
				"Parameters a route does not take are refused (400).",
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "A token of api.tokens_file, when set; without it the API takes no token."}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("api: the OpenAPI document does not encode: " + err.Error()) // built from constants
	}
	return append(b, '\n')
}

func cmpOrString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var statusText = map[int]string{
	http.StatusBadRequest:          "bad_query: a parameter is wrong; error.param names it",
	http.StatusUnauthorized:        "unauthorized: no bearer token, or not an accepted one (the same answer for both)",
	http.StatusNotFound:            "not_found",
	http.StatusMethodNotAllowed:    "method_not_allowed: see the Allow header",
	http.StatusUnprocessableEntity: "limit_exceeded: the answer would exceed api.max_points or api.max_keys; error.limit names it",
	http.StatusInternalServerError: "internal: logged by the server",
	http.StatusServiceUnavailable:  "unavailable: partitions cannot be read now (restoring, in a rebalance, an instance not answering); error.partitions lists them; retry after the Retry-After header's seconds, or pass stale=true",
	http.StatusGatewayTimeout:      "timeout: the query took longer than api.timeout",
}

func (g *schemaGen) operation(rt *route, method string) map[string]any {
	id := strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(strings.TrimPrefix(rt.path, Prefix))
	op := map[string]any{
		"operationId": strings.ToLower(method) + "_" + id,
		"summary":     rt.summary,
		"description": rt.description,
	}
	var params []any
	body := map[string]any{}
	for _, p := range rt.params {
		s := paramSchema(p)
		in := p.in
		if in == "" {
			in = "query"
		}
		pd := map[string]any{"name": p.name, "in": in, "required": p.required || in == "path", "description": p.desc, "schema": s}
		if p.example != "" {
			pd["example"] = exampleValue(p)
		}
		switch p.kind {
		case kRepeated:
			pd["style"], pd["explode"] = "form", true
		case kCSV:
			pd["style"], pd["explode"] = "form", false
		}
		params = append(params, pd)
		if in == "query" {
			body[p.name] = s
		}
	}
	if params != nil {
		op["parameters"] = params
	}
	if method == http.MethodPost {
		bs := map[string]any{"type": "object", "properties": body}
		op["requestBody"] = map[string]any{
			"description": "The query parameters as a JSON object (a repeated parameter as an array) or a form.",
			"content": map[string]any{
				"application/json":                  map[string]any{"schema": bs},
				"application/x-www-form-urlencoded": map[string]any{"schema": bs},
			},
		}
	}
	resp := map[string]any{}
	switch {
	case rt.data != nil:
		resp["200"] = map[string]any{"description": "success", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "object", "required": []string{"status", "data"},
			"properties": map[string]any{
				"status": map[string]any{"type": "string", "enum": []string{"success"}},
				"data":   g.of(rt.data),
			},
		}}}}
	case rt.produces == "text/event-stream":
		resp["200"] = map[string]any{"description": "server-sent events: `update` (data: WindowUpdate), `dropped` (data: Dropped), comments as heartbeats",
			"content": map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}}
	default:
		resp["200"] = map[string]any{"description": "success", "content": map[string]any{rt.produces: map[string]any{"schema": map[string]any{"type": "object"}}}}
	}
	errs := append([]int{http.StatusUnauthorized, http.StatusMethodNotAllowed, http.StatusInternalServerError}, rt.statuses...)
	for _, st := range errs {
		resp[strconv.Itoa(st)] = map[string]any{"description": statusText[st],
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ErrorEnvelope"}}}}
	}
	op["responses"] = resp
	return op
}

// exampleValue is p's example as its schema types it: OpenAPI validators check
// that an array parameter's example is an array, an integer's an integer.
func exampleValue(p param) any {
	switch p.kind {
	case kRepeated:
		return []string{p.example}
	case kCSV:
		return strings.Split(p.example, ",")
	case kInt:
		if n, err := strconv.Atoi(p.example); err == nil {
			return n
		}
	case kBool:
		if b, err := strconv.ParseBool(p.example); err == nil {
			return b
		}
	}
	return p.example
}

func paramSchema(p param) map[string]any {
	switch p.kind {
	case kRepeated, kCSV:
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	case kTime:
		return map[string]any{"type": "string", "description": "RFC 3339 or unix seconds"}
	case kDuration:
		return map[string]any{"type": "string", "description": "a duration (1m, 1h30m) or seconds"}
	case kInt:
		return map[string]any{"type": "integer"}
	case kBool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{"type": "string"}
}

// schemaGen makes OpenAPI schemas of the wire types; named structs go to
// components/schemas.
type schemaGen struct {
	schemas map[string]any
}

var (
	tTimestamp = reflect.TypeFor[client.Timestamp]()
	tDuration  = reflect.TypeFor[client.Duration]()
	tValue     = reflect.TypeFor[client.Value]()
)

func (g *schemaGen) of(t reflect.Type) map[string]any {
	switch t {
	case tTimestamp:
		return map[string]any{"type": "number", "description": "unix seconds, to the millisecond", "example": 1795341600.5}
	case tDuration:
		return map[string]any{"type": "string", "description": "a Prometheus duration", "example": "1m"}
	case tValue:
		return map[string]any{"nullable": true, "description": "a number; null for none (NaN); \"+Inf\" or \"-Inf\"",
			"oneOf": []any{map[string]any{"type": "number"}, map[string]any{"type": "string", "enum": []string{"+Inf", "-Inf"}}}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.of(t.Elem())
		if _, ref := s["$ref"]; ref {
			return map[string]any{"nullable": true, "allOf": []any{s}}
		}
		c := map[string]any{"nullable": true}
		for k, v := range s {
			c[k] = v
		}
		return c
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Struct:
		ref := map[string]any{"$ref": "#/components/schemas/" + t.Name()}
		if _, done := g.schemas[t.Name()]; done {
			return ref
		}
		s := map[string]any{"type": "object"}
		g.schemas[t.Name()] = s // before the fields: a type may contain itself
		props, required := map[string]any{}, []string{}
		g.fields(t, props, &required)
		s["properties"] = props
		if len(required) > 0 {
			s["required"] = required
		}
		return ref
	}
	panic("api: no OpenAPI schema for " + t.String()) // a wire type the generator does not know
}

// fields adds the JSON fields of struct t, embedded structs flattened as
// encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		ps := g.of(f.Type)
		if d, ok := fieldDocs[t.Name()+"."+name]; ok {
			if _, ref := ps["$ref"]; ref {
				ps = map[string]any{"allOf": []any{ps}}
			}
			ps["description"] = d
		}
		props[name] = ps
		if !strings.Contains(opts, "omitempty") {
			*required = append(*required, name)
		}
	}
}

// fieldDocs describe the fields of the wire types a reader of the document
// most needs explained (the Go doc comments of package client say the rest).
var fieldDocs = map[string]string{
	"Status.ready":                      "Every partition of this instance is restored and running.",
	"Status.partitions":                 "The number of repartition partitions: the stage-2 tasks among which keys are spread.",
	"Member.restoring":                  "Partitions of this member still restoring: a query needing them answers 503, or reads them stale with stale=true.",
	"PartitionTime.stream_time":         "Windows that close before it are final; null before the partition's first event.",
	"Aggregation.measures":              "The measures queries on it take. Any other quantile too, as pNN or qX, when any_quantile.",
	"Aggregation.any_quantile":          "A sketch is kept: every pNN and qX can be asked for.",
	"Aggregation.sketch_relative_error": "The bound on a quantile's relative error; null without a sketch.",
	"Aggregation.time_range":            "The window starts it holds; null before any event.",
	"TimeRange.basis":                   "Whose stream times it is computed from: local, the partitions of the instance that answered.",
	"Coverage.partitions":               "The repartition partitions read.",
	"Coverage.stale":                    "Partitions read while still restoring (stale=true), with the changelog records they were behind.",
	"Coverage.instances":                "The instances that answered.",
	"RangeResult.measures":              "The keys of every point's values, as the measure parameters wrote them.",
	"RangeResult.step":                  "The step used: the step parameter, or the window's own step.",
	"RangeResult.merged_windows":        "A point can merge several windows of one key (a step longer than the window, or sessions). Windows merge exactly: counts add, sketches merge bucket by bucket, so a quantile is that of every event of the step, never an average of per-window quantiles.",
	"RangeResult.complete":              "Every point is complete, no partition was read stale, and the stream time has passed the close of the last window that can start before to: no later commit changes the answer.",
	"RangeResult.stream_time":           "The least stream time of the partitions read; null when none has seen an event.",
	"Series.labels":                     "The group_by dimensions and their values.",
	"Series.points":                     "Ascending by start; steps without windows are left out.",
	"Point.windows":                     "How many (key, window) pairs the point merged.",
	"Point.open":                        "How many of them were still open: their values may still change.",
	"Point.complete":                    "No window is open and every partition read is past the close of the last window that can start in the step.",
	"Point.values":                      "Each measure as asked, evaluated on the merged windows.",
	"Point.resolution":                  "The coarsest resolution the point read: the window size, or a rollup's (rollups merge windows exactly; finer windows fill a step's edges off the rollup's boundaries).",
	"Aggregation.rollups":               "Coarser resolutions the aggregation is also kept at, finest first, each with its own retention.",
	"LatestKey.closed":                  "The latest closed window (final); null if none was read.",
	"LatestKey.open":                    "The windows still open, ascending: partial results.",
	"Window.last":                       "The latest event time in the window.",
	"Window.partial":                    "Still open: later commits change it.",
	"TopKResult.entries":                "Best first; keys without a value (null) last.",
	"WindowUpdate.partial":              "Still open: later updates of the window follow.",
	"WindowUpdate.committed_at":         "When the transaction that wrote it committed.",
	"ErrorInfo.param":                   "bad_query: the parameter at fault.",
	"ErrorInfo.limit":                   "limit_exceeded: the limit the answer would exceed (max_points, max_keys, max_subscribers).",
	"ErrorInfo.partitions":              "unavailable: the partitions that could not be read.",
	"ErrorInfo.retry_after_seconds":     "unavailable: as the Retry-After header.",
}
