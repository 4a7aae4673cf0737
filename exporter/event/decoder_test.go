package event

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// want is the expected decoding of a valid event; Dims as strings for readability.
type want struct {
	time     int64
	value    float64
	hasValue bool
	status   int
	class    Class
	dims     []string
}

func checkEvent(t *testing.T, ev *Event, w want) {
	t.Helper()
	if ev.Time != w.time || ev.HasValue != w.hasValue || ev.Status != w.status || ev.Class != w.class {
		t.Errorf("got time %d hasValue %v status %d class %v, want %d %v %d %v",
			ev.Time, ev.HasValue, ev.Status, ev.Class, w.time, w.hasValue, w.status, w.class)
	}
	if w.hasValue && ev.Value != w.value {
		t.Errorf("got value %v, want %v", ev.Value, w.value)
	}
	if len(ev.Dims) != len(w.dims) {
		t.Fatalf("got %d dims %q, want %q", len(ev.Dims), ev.Dims, w.dims)
	}
	for i := range w.dims {
		if string(ev.Dims[i]) != w.dims[i] {
			t.Errorf("dim %d: got %q, want %q", i, ev.Dims[i], w.dims[i])
		}
	}
}

func mustDecoder(t testing.TB, s Schema) *Decoder {
	t.Helper()
	d, err := NewDecoder(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const (
	ts      = 1732230000123 // 2024-11-21T23:00:00.123Z
	recTime = 1732230005000 // the Kafka record time the tests pass to DecodeRecord
)

func TestDecodeRequestLog(t *testing.T) {
	base := want{time: ts, value: 0.0125, hasValue: true, status: 200, class: OK, dims: []string{"/api/users", "GET", "200", "us-east-1"}}
	with := func(f func(w *want)) want {
		w := base
		w.dims = append([]string(nil), base.dims...)
		f(&w)
		return w
	}
	tests := []struct {
		name string
		in   string
		want want
	}{
		{"compact", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, base},
		{"spaces", `{ "timestamp" : 1732230000123 , "endpoint" : "/api/users" , "method" : "GET" , "status" : 200 , "region" : "us-east-1" , "latency_ms" : 12.5 }`, base},
		{"pretty", "{\n\t\"timestamp\": 1732230000123,\n\t\"endpoint\": \"/api/users\",\r\n\t\"method\": \"GET\",\n\t\"status\": 200,\n\t\"region\": \"us-east-1\",\n\t\"latency_ms\": 12.5\n}\n", base},
		{"surrounding whitespace", " \t\r\n" + `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}` + "\n\n", base},
		{"other key order", `{"latency_ms":12.5,"region":"us-east-1","status":200,"method":"GET","endpoint":"/api/users","timestamp":1732230000123}`, base},
		{"extra fields of every kind", `{"trace":{"id":"a}b\"c","spans":[1,[2,{"x":null}],"]"]},"timestamp":1732230000123,"ok":true,"nope":false,"n":null,"endpoint":"/api/users","f":-1.5e-3,"method":"GET","status":200,"arr":[],"obj":{},"region":"us-east-1","ua":"Mozilla \"5.0\" \\ \u00e9","latency_ms":12.5,"z":0}`, base},
		{"status as string", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":"200","region":"us-east-1","latency_ms":12.5}`, base},
		{"latency as string", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":"12.5"}`, base},
		{"latency zero", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":0}`, with(func(w *want) { w.value = 0 })},
		{"latency negative zero", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":-0.0}`, with(func(w *want) { w.value = 0 })},
		{"latency exponent", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":1.25E1}`, base},
		{"client error", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":404,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.status, w.class, w.dims[2] = 404, ClientError, "404" })},
		{"server error", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":503,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.status, w.class, w.dims[2] = 503, ServerError, "503" })},
		{"integral float status keeps its text", `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":500.0,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.status, w.class, w.dims[2] = 500, ServerError, "500.0" })},
		{"escapes", `{"timestamp":1732230000123,"endpoint":"/api/\"q\"\\\/x\n\t","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.dims[0] = "/api/\"q\"\\/x\n\t" })},
		{"unicode escape", `{"timestamp":1732230000123,"endpoint":"/caf\u00e9/\u00C9","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.dims[0] = "/café/É" })},
		{"surrogate pair", `{"timestamp":1732230000123,"endpoint":"/\ud83d\ude00","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.dims[0] = "/😀" })},
		{"lone surrogates become U+FFFD", `{"timestamp":1732230000123,"endpoint":"\ud83d-\ude00-\ud83d\u0041","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.dims[0] = "\uFFFD-\uFFFD-\uFFFDA" })},
		{"raw UTF-8", `{"timestamp":1732230000123,"endpoint":"/café/😀","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.dims[0] = "/café/😀" })},
		{"escaped key", `{"timestamp":1732230000123,"\u0065ndpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, base},
		{"duplicate key, last wins", `{"timestamp":1732230000123,"endpoint":"/first","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5,"endpoint":"/api/users"}`, base},
		{"duplicate key, the invalid first value is ignored", `{"timestamp":"garbage","latency_ms":-1,"status":{},"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, base},
		{"timestamp missing: the record time", `{"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.time = recTime })},
		{"timestamp null: the record time", `{"timestamp":null,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, with(func(w *want) { w.time = recTime })},
		{"empty strings", `{"timestamp":1732230000123,"endpoint":"","method":"","status":200,"region":"","latency_ms":12.5}`, with(func(w *want) { w.dims[0], w.dims[1], w.dims[3] = "", "", "" })},
	}
	d := mustDecoder(t, RequestLogSchema())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			if err := d.DecodeRecord([]byte(tt.in), recTime, &ev); err != nil {
				t.Fatal(err)
			}
			checkEvent(t, &ev, tt.want)
		})
	}
}

// genericSchema is a metric-point schema with nested labels.
func genericSchema() Schema {
	return Schema{
		Timestamp: Path{"timestamp"},
		Value:     Path{"value"},
		Dimensions: []Dimension{
			{Name: "name", Path: Path{"name"}},
			{Name: "host", Path: Path{"labels", "host"}},
			{Name: "region", Path: Path{"labels", "region"}, Optional: true, Default: "unknown"},
			{Name: "zone", Path: Path{"meta", "placement", "zone"}, Optional: true},
		},
	}
}

func TestDecodeGeneric(t *testing.T) {
	const t0 = 1795341600000 // 2026-11-22T10:00:00Z
	tests := []struct {
		name string
		in   string
		want want
	}{
		{"all fields", `{"name":"cpu","value":0.7,"labels":{"host":"a","region":"eu"},"meta":{"placement":{"zone":"z1"}},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, value: 0.7, hasValue: true, dims: []string{"cpu", "a", "eu", "z1"}}},
		{"optional dims take their defaults", `{"name":"cpu","value":0.7,"labels":{"host":"a"},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, value: 0.7, hasValue: true, dims: []string{"cpu", "a", "unknown", ""}}},
		{"null is absent", `{"name":"cpu","value":0.7,"labels":{"host":"a","region":null},"meta":{"placement":null},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, value: 0.7, hasValue: true, dims: []string{"cpu", "a", "unknown", ""}}},
		{"value optional", `{"name":"up","labels":{"host":"a"},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, dims: []string{"up", "a", "unknown", ""}}},
		{"numbers and booleans as dimensions", `{"name":42,"labels":{"host":true,"region":-1.5e3},"meta":{"placement":{"zone":false}},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, dims: []string{"42", "true", "-1.5e3", "false"}}},
		{"nested fields among others", `{"labels":{"x":{"host":"no"},"host":"a","y":[{"host":"no"}]},"name":"cpu","timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, dims: []string{"cpu", "a", "unknown", ""}}},
		{"repeated object: the last one wins whole", `{"name":"cpu","labels":{"host":"a","region":"eu"},"labels":{"host":"b"},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, dims: []string{"cpu", "b", "unknown", ""}}},
		{"repeated object after a non-object", `{"name":"cpu","labels":"x","labels":{"host":"b"},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, dims: []string{"cpu", "b", "unknown", ""}}},
		{"escaped nested keys", `{"name":"cpu","l\u0061bels":{"h\u006Fst":"a"},"timestamp":"2026-11-22T10:00:00Z"}`,
			want{time: t0, dims: []string{"cpu", "a", "unknown", ""}}},
		{"no timestamp: the record time", `{"name":"cpu","labels":{"host":"a"}}`,
			want{time: recTime, dims: []string{"cpu", "a", "unknown", ""}}},
	}
	d := mustDecoder(t, genericSchema())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			if err := d.DecodeRecord([]byte(tt.in), recTime, &ev); err != nil {
				t.Fatal(err)
			}
			checkEvent(t, &ev, tt.want)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const (
		head = `{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1",`
		ok   = head + `"latency_ms":12.5}`
	)
	reqLog := RequestLogSchema()
	small := RequestLogSchema()
	small.MaxSize = len(ok) - 1
	generic := genericSchema()
	rfc := genericSchema()
	rfc.TimestampUnit = TimeRFC3339
	tests := []struct {
		name   string
		schema Schema
		in     string
		reason Reason
		field  string
		msg    string // a substring of Error()
	}{
		{"empty", reqLog, ``, NotJSON, "", "empty payload"},
		{"blank", reqLog, " \n", NotJSON, "", "empty payload"},
		{"truncated", reqLog, ok[:len(ok)-1], NotJSON, "", "unexpected end of input"},
		{"truncated in string", reqLog, head[:20], NotJSON, "", "unexpected end of input"},
		{"trailing data", reqLog, ok + `{}`, NotJSON, "", "after top-level value"},
		{"trailing comma", reqLog, head + `"latency_ms":12.5,}`, NotJSON, "", "beginning of object key"},
		{"single quotes", reqLog, `{'timestamp':1}`, NotJSON, "", `invalid character '\''`},
		{"missing colon", reqLog, `{"timestamp" 1}`, NotJSON, "", "after object key"},
		{"bad literal", reqLog, head + `"latency_ms":12.5,"x":tru}`, NotJSON, "", "in literal true"},
		{"leading zero", reqLog, head + `"latency_ms":012}`, NotJSON, "", "after object key:value pair"},
		{"bare fraction", reqLog, head + `"latency_ms":.5}`, NotJSON, "", "beginning of value"},
		{"NaN literal", reqLog, head + `"latency_ms":NaN}`, NotJSON, "", "beginning of value"},
		{"bad escape", reqLog, head + `"latency_ms":12.5,"x":"\q"}`, NotJSON, "", "escape"},
		{"short unicode escape", reqLog, head + `"latency_ms":12.5,"x":"\u12"}`, NotJSON, "", "hexadecimal"},
		{"control character in string", reqLog, head + "\"latency_ms\":12.5,\"x\":\"a\tb\"}", NotJSON, "", `'\x09' in string literal`},
		{"broken skipped nested value", reqLog, head + `"latency_ms":12.5,"x":{"a":[1,2,}]}}`, NotJSON, "", "beginning of value"},
		{"unclosed array", reqLog, head + `"latency_ms":12.5,"x":[1,2}`, NotJSON, "", "after array element"},
		{"too deep", reqLog, `{"x":` + strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting) + `}`, NotJSON, "", "exceeded max depth"},
		{"top level array", reqLog, `[1,2]`, WrongType, "", "payload is a JSON array, want an object"},
		{"top level string", reqLog, `"x"`, WrongType, "", "payload is a JSON string"},
		{"missing endpoint", reqLog, `{"timestamp":1732230000123,"method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, MissingField, "endpoint", "required dimension is missing"},
		{"null region", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","status":200,"region":null,"latency_ms":12.5}`, MissingField, "region", "required dimension"},
		{"missing latency", reqLog, head[:len(head)-1] + `}`, MissingField, "latency_ms", "required value is missing"},
		{"missing status", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","region":"us-east-1","latency_ms":12.5}`, MissingField, "status", "required status"},
		{"missing nested host", generic, `{"name":"cpu","labels":{}}`, MissingField, "labels.host", "required dimension"},
		{"missing parent of host", generic, `{"name":"cpu"}`, MissingField, "labels.host", "required dimension"},
		{"endpoint is an object", reqLog, `{"timestamp":1732230000123,"endpoint":{"p":"/"},"method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, WrongType, "endpoint", "got object, want string, number or boolean"},
		{"latency is a boolean", reqLog, head + `"latency_ms":true}`, WrongType, "latency_ms", "got boolean, want number"},
		{"status is an array", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","status":[200],"region":"us-east-1","latency_ms":12.5}`, WrongType, "status", "got array, want number"},
		{"timestamp is an object", reqLog, `{"timestamp":{},"endpoint":"/","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, WrongType, "timestamp", "want number or string"},
		{"labels is a string", generic, `{"name":"cpu","labels":"host=a"}`, WrongType, "labels", "got string, want object"},
		{"labels is a string, optional dim", generic, `{"name":"cpu","labels":{"host":"a"},"meta":[1]}`, WrongType, "meta", "got array, want object"},
		{"number timestamp, rfc3339 unit", rfc, `{"name":"cpu","labels":{"host":"a"},"timestamp":1732230000}`, WrongType, "timestamp", "want RFC 3339 string"},
		{"negative latency", reqLog, head + `"latency_ms":-3}`, InvalidValue, "latency_ms", `event: field "latency_ms": invalid_value: negative value -3`},
		{"negative latency string", reqLog, head + `"latency_ms":"-0.5"}`, InvalidValue, "latency_ms", "negative value -0.5"},
		{"latency overflow", reqLog, head + `"latency_ms":1e400}`, InvalidValue, "latency_ms", "out of range"},
		{"latency NaN string", reqLog, head + `"latency_ms":"NaN"}`, InvalidValue, "latency_ms", `"NaN" is not a number`},
		{"latency Inf string", reqLog, head + `"latency_ms":"+Inf"}`, InvalidValue, "latency_ms", "is not a number"},
		{"latency with unit", reqLog, head + `"latency_ms":"12ms"}`, InvalidValue, "latency_ms", "is not a number"},
		{"fractional status", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","status":200.5,"region":"us-east-1","latency_ms":12.5}`, InvalidValue, "status", "not an integer"},
		{"negative status", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","status":-1,"region":"us-east-1","latency_ms":12.5}`, InvalidValue, "status", "not an integer"},
		{"huge status", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","status":1e10,"region":"us-east-1","latency_ms":12.5}`, InvalidValue, "status", "not an integer"},
		{"status text", reqLog, `{"timestamp":1732230000123,"endpoint":"/","method":"GET","status":"OK","region":"us-east-1","latency_ms":12.5}`, InvalidValue, "status", `status "OK" is not a number`},
		{"invalid UTF-8 dimension", reqLog, "{\"timestamp\":1732230000123,\"endpoint\":\"/\xff\",\"method\":\"GET\",\"status\":200,\"region\":\"us-east-1\",\"latency_ms\":12.5}", InvalidValue, "endpoint", "not valid UTF-8"},
		{"invalid UTF-8 escaped dimension", reqLog, "{\"timestamp\":1732230000123,\"endpoint\":\"\\n\xc3\",\"method\":\"GET\",\"status\":200,\"region\":\"us-east-1\",\"latency_ms\":12.5}", InvalidValue, "endpoint", "not valid UTF-8"},
		{"timestamp before min", reqLog, `{"timestamp":946684799999,"endpoint":"/","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, BadTimestamp, "timestamp", "1999-12-31T23:59:59.999Z is before the minimum time 2000-01-01T00:00:00Z"},
		{"timestamp in the future", reqLog, `{"timestamp":1732316400124,"endpoint":"/","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, BadTimestamp, "timestamp", "ahead of now"},
		{"timestamp unparseable", reqLog, `{"timestamp":"yesterday","endpoint":"/","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, BadTimestamp, "timestamp", `cannot parse "yesterday" as RFC 3339`},
		{"timestamp bad month", generic, `{"name":"cpu","labels":{"host":"a"},"timestamp":"2026-13-22T10:00:00Z"}`, BadTimestamp, "timestamp", "RFC 3339"},
		{"timestamp Feb 30", generic, `{"name":"cpu","labels":{"host":"a"},"timestamp":"2026-02-30T10:00:00Z"}`, BadTimestamp, "timestamp", "RFC 3339"},
		{"timestamp no zone", generic, `{"name":"cpu","labels":{"host":"a"},"timestamp":"2026-11-22T10:00:00"}`, BadTimestamp, "timestamp", "RFC 3339"},
		{"timestamp out of int64", reqLog, `{"timestamp":1e30,"endpoint":"/","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, BadTimestamp, "timestamp", "out of range"},
		{"timestamp negative", reqLog, `{"timestamp":-1732230000123,"endpoint":"/","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`, BadTimestamp, "timestamp", "before the minimum time"},
		{"too large", small, ok, TooLarge, "", "too_large: payload of 118 bytes, max 117"},
		{"too large before anything else", small, strings.Repeat("x", 200), TooLarge, "", "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDecoder(t, tt.schema)
			d.SetNow(ts)
			var ev Event
			err := d.DecodeRecord([]byte(tt.in), recTime, &ev)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Reason != tt.reason || e.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %s (reason %v, field %q), want reason %v field %q containing %q", err, e.Reason, e.Field, tt.reason, tt.field, tt.msg)
			}
		})
	}
}

func TestErrorReadsWell(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Reason: InvalidValue, Field: "latency_ms", Msg: "negative value -3"}, `event: field "latency_ms": invalid_value: negative value -3`},
		{&Error{Reason: NotJSON, Msg: "empty payload"}, `event: not_json: empty payload`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
	var labels []string
	for _, r := range Reasons() {
		labels = append(labels, r.String())
	}
	if got, want := strings.Join(labels, ","), "not_json,missing_field,wrong_type,invalid_value,bad_timestamp,too_large,dimension_too_long"; got != want {
		t.Errorf("reason labels %s, want %s", got, want)
	}
}

func TestStatusRanges(t *testing.T) {
	grpc := Schema{ // gRPC codes: INVALID_ARGUMENT..OUT_OF_RANGE are the caller's fault
		Status:       Path{"code"},
		ClientErrors: []Range{{3, 3}, {5, 7}, {9, 11}, {16, 16}},
		ServerErrors: []Range{{2, 2}, {4, 4}, {8, 8}, {12, 15}},
	}
	tests := []struct {
		name   string
		schema Schema
		status int
		want   Class
	}{
		{"default 399", Schema{Status: Path{"code"}}, 399, OK},
		{"default 400", Schema{Status: Path{"code"}}, 400, ClientError},
		{"default 499", Schema{Status: Path{"code"}}, 499, ClientError},
		{"default 500", Schema{Status: Path{"code"}}, 500, ServerError},
		{"default 599", Schema{Status: Path{"code"}}, 599, ServerError},
		{"default 600", Schema{Status: Path{"code"}}, 600, OK},
		{"default 0", Schema{Status: Path{"code"}}, 0, OK},
		{"only 5xx errors, 429 counted as server", Schema{Status: Path{"code"}, ClientErrors: []Range{{400, 428}, {430, 499}}, ServerErrors: []Range{{429, 429}, {500, 599}}}, 429, ServerError},
		{"grpc OK", grpc, 0, OK},
		{"grpc NOT_FOUND", grpc, 5, ClientError},
		{"grpc DEADLINE_EXCEEDED", grpc, 4, ServerError},
		{"grpc UNAVAILABLE", grpc, 14, ServerError},
		{"grpc UNAUTHENTICATED", grpc, 16, ClientError},
		{"grpc 17", grpc, 17, OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDecoder(t, tt.schema)
			var ev Event
			in := `{"code":` + strconv.Itoa(tt.status) + `}`
			if err := d.DecodeRecord([]byte(in), recTime, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Status != tt.status || ev.Class != tt.want {
				t.Errorf("%s: got status %d class %v, want %v", in, ev.Status, ev.Class, tt.want)
			}
		})
	}
}

func TestValueScaleAndSign(t *testing.T) {
	tests := []struct {
		name   string
		schema Schema
		in     string
		want   float64
		reason Reason // 0 with want checked when the event is valid
		ok     bool
	}{
		{"unitless scale 0 means 1", Schema{Value: Path{"v"}}, `{"v":0.7}`, 0.7, 0, true},
		{"ms to s is exact", Schema{Value: Path{"v"}, ValueScale: 0.001}, `{"v":36.987}`, 0.036987, 0, true},
		{"us to s", Schema{Value: Path{"v"}, ValueScale: 1e-6}, `{"v":1500}`, 0.0015, 0, true},
		{"arbitrary scale", Schema{Value: Path{"v"}, ValueScale: 60}, `{"v":1.5}`, 90, 0, true},
		{"gauge may be negative", Schema{Value: Path{"v"}, AllowNegative: true}, `{"v":-3.5}`, -3.5, 0, true},
		{"negative refused by default", Schema{Value: Path{"v"}}, `{"v":-3.5}`, 0, InvalidValue, false},
		{"scale overflow", Schema{Value: Path{"v"}, ValueScale: 1e300}, `{"v":1e300}`, 0, InvalidValue, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDecoder(t, tt.schema)
			var ev Event
			err := d.DecodeRecord([]byte(tt.in), recTime, &ev)
			if !tt.ok {
				var e *Error
				if !errors.As(err, &e) || e.Reason != tt.reason {
					t.Fatalf("got %v, want reason %v", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ev.HasValue || ev.Value != tt.want || math.Signbit(ev.Value) != math.Signbit(tt.want) {
				t.Errorf("got %v (has %v), want %v", ev.Value, ev.HasValue, tt.want)
			}
		})
	}
}

func TestNoAllocations(t *testing.T) {
	events := loadgenEvents(100)
	escaped := []byte(`{"timestamp":1732230000123,"endpoint":"/caf\u00e9","method":"G\u0045T","status":"503","region":"eu-\u0077est-1","latency_ms":"12.5"}`)
	untimed := []byte(`{"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`)
	pinned := mustDecoder(t, RequestLogSchema())
	pinned.SetNow(recTime)
	for name, d := range map[string]*Decoder{"SetNow": pinned, "clock": mustDecoder(t, RequestLogSchema())} {
		var ev Event
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			for _, data := range [][]byte{events[i%len(events)], escaped, untimed} {
				if err := d.DecodeRecord(data, recTime, &ev); err != nil {
					t.Fatal(err)
				}
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", name, allocs)
		}
	}
}

// Unescaped dimensions live in a buffer that grows while an event is decoded; every
// view must still be right afterwards.
func TestEscapedViewsSurviveGrowth(t *testing.T) {
	d := mustDecoder(t, RequestLogSchema())
	big := strings.Repeat(`\u00e9`, 500)
	in := `{"timestamp":1732230000123,"endpoint":"/a\n` + big + `","method":"\u0047ET","status":200,"region":"` + big + `x","latency_ms":1}`
	var ev Event
	if err := d.DecodeRecord([]byte(in), recTime, &ev); err != nil {
		t.Fatal(err)
	}
	e := strings.Repeat("é", 500)
	for i, w := range []string{"/a\n" + e, "GET", "200", e + "x"} {
		if string(ev.Dims[i]) != w {
			t.Errorf("dim %d: got %.20q..., want %.20q...", i, ev.Dims[i], w)
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *Schema)
		want string // "" means valid
	}{
		{"request log", func(*Schema) {}, ""},
		{"empty schema", func(s *Schema) { *s = Schema{} }, ""},
		{"empty path", func(s *Schema) { s.Value = Path{} }, "value: empty path"},
		{"empty path element", func(s *Schema) { s.Timestamp = Path{"a", ""} }, `timestamp: path "a.": element 1 is empty`},
		{"unknown unit", func(s *Schema) { s.TimestampUnit = 9 }, "timestamp_unit: unknown unit 9"},
		{"value required without value", func(s *Schema) { s.Value = nil }, "value_required: set without a value path"},
		{"negative scale", func(s *Schema) { s.ValueScale = -1 }, "value_scale: must be a finite number > 0, got -1"},
		{"NaN scale", func(s *Schema) { s.ValueScale = math.NaN() }, "value_scale"},
		{"inverted range", func(s *Schema) { s.ClientErrors = []Range{{499, 400}} }, "client_errors[0]: want 0 <= lo <= hi, got 499-400"},
		{"overlapping ranges", func(s *Schema) { s.ServerErrors = []Range{{450, 599}} }, "client_errors[0] (400-499) overlaps server_errors[0] (450-599)"},
		{"unnamed dimension", func(s *Schema) { s.Dimensions[1].Name = "" }, "dimensions[1].name: empty"},
		{"duplicate dimension", func(s *Schema) { s.Dimensions[1].Name = "endpoint" }, `dimensions[1].name: duplicate dimension "endpoint"`},
		{"dimension without path", func(s *Schema) { s.Dimensions[2].Path = nil }, "dimensions[2].path: empty"},
		{"default on required", func(s *Schema) { s.Dimensions[0].Default = "x" }, "dimensions[0].default: set on a required dimension"},
		{"bad UTF-8 default", func(s *Schema) { s.Dimensions[0].Optional, s.Dimensions[0].Default = true, "\xff" }, "not valid UTF-8"},
		{"value and object", func(s *Schema) { s.Dimensions[3].Path = Path{"latency_ms", "x"} }, `value: "latency_ms" is an object holding dimensions[3].path "latency_ms.x"`},
		{"same path twice is fine", func(s *Schema) { s.Dimensions[3].Path = Path{"endpoint"} }, ""},
		{"negative skew", func(s *Schema) { s.MaxFutureSkew = -1 }, "max_future_skew: must be >= 0"},
		{"negative min time", func(s *Schema) { s.MinTime = -1 }, "min_time: must be >= 0"},
		{"negative max size", func(s *Schema) { s.MaxSize = -1 }, "max_size: must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := RequestLogSchema()
			tt.edit(&s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
			if _, nerr := NewDecoder(s); nerr == nil {
				t.Errorf("NewDecoder accepted it")
			}
		})
	}
}

func TestParseUnit(t *testing.T) {
	for u := TimeAuto; u <= TimeRFC3339; u++ {
		t.Run(u.String(), func(t *testing.T) {
			got, err := ParseUnit(u.String())
			if err != nil || got != u {
				t.Errorf("got %v %v", got, err)
			}
		})
	}
	if _, err := ParseUnit("minutes"); err == nil {
		t.Error("ParseUnit(minutes) succeeded")
	}
}
