package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonDecoded is what a JSON parser reads back from s written by encoding/json: s
// itself, except that each byte not part of valid UTF-8 becomes U+FFFD. It is the
// reference for jsonstr.Append.
func jsonDecoded(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// awkward holds the values an error message must quote safely: every control
// character, DEL, quotes, backslashes, non-ASCII, JavaScript's line separators, and
// invalid UTF-8 (a lone byte, a truncated sequence, an encoded surrogate).
func awkward() []string {
	var vs []string
	for c := 0; c < 0x20; c++ {
		vs = append(vs, "a"+string(rune(c))+"b")
	}
	vs = append(vs, "\x7f", `"`, `\`, `\"`, "é", "漢", "😀", "\u2028", "\u2029", "\ufffd",
		"\xff", "\xc3", "x\xc3(", "\xed\xa0\x80", "\xf4\x90\x80\x80")
	var all strings.Builder
	for _, v := range vs {
		all.WriteString(v)
	}
	return append(vs, all.String())
}

func TestQuoteCutsLongValues(t *testing.T) {
	f := func(v, wantExcerpt, wantTail string) {
		t.Helper()
		q := quote([]byte(v))
		dec := json.NewDecoder(strings.NewReader(q))
		var got string
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%.20q...: the excerpt %q is not a JSON string: %v", v, q, err)
		}
		if got != wantExcerpt || q[dec.InputOffset():] != wantTail {
			t.Errorf("%.20q...: got %q then %q, want %q then %q", v, got, q[dec.InputOffset():], wantExcerpt, wantTail)
		}
	}
	f("", "", "")
	f(strings.Repeat("a", 64), strings.Repeat("a", 64), "")
	f(strings.Repeat("a", 65), strings.Repeat("a", 64), "... (65 bytes)")
	f(strings.Repeat("a", 600<<10), strings.Repeat("a", 64), "... (614400 bytes)")
	// The cut falls inside a two-byte rune: it moves back rather than split it.
	f("a"+strings.Repeat("é", 100), "a"+strings.Repeat("é", 31), "... (201 bytes)")
	f(strings.Repeat("\x07", 100), strings.Repeat("\x07", 64), "... (100 bytes)")
	f(strings.Repeat("\xff", 100), strings.Repeat("\ufffd", 64), "... (100 bytes)")
	if got, want := excerpt([]byte(strings.Repeat("9", 1000))), strings.Repeat("9", 64)+"... (1000 bytes)"; got != want {
		t.Errorf("excerpt of a long number: %q, want %q", got, want)
	}
}

// TestErrorMessagesAreJSON checks the messages that quote an offending value: each
// one is valid UTF-8, survives encoding/json (a dead letter's kwindow.error header
// ends up in JSON), and the value it quotes is a JSON string holding the value.
func TestErrorMessagesAreJSON(t *testing.T) {
	// jsonLit writes v as the content of a JSON string in a payload: the bytes a
	// string may not hold raw are escaped, the others (invalid UTF-8 too) are raw.
	jsonLit := func(v string) string {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"' || c == '\\':
				b.WriteString(`\` + string(c))
			case c < 0x20:
				b.WriteString(`\u00` + "0123456789abcdef"[c>>4:c>>4+1] + "0123456789abcdef"[c&15:c&15+1])
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	s := Schema{
		Timestamp:          Path{"ts"},
		Value:              Path{"v"},
		Status:             Path{"st"},
		Dimensions:         []Dimension{{Name: "d", Path: Path{"d"}}},
		MaxDimensionLength: 2,
	}
	d := mustDecoder(t, s)
	d.SetNow(ts)
	cases := []struct {
		name    string
		payload func(v string) string
		before  string // the message text just before the quoted value
	}{
		{"timestamp", func(v string) string { return `{"ts":"` + jsonLit(v) + `"}` }, "cannot parse "},
		{"value", func(v string) string { return `{"v":"` + jsonLit(v) + `"}` }, `invalid_value: `},
		{"status", func(v string) string { return `{"st":"` + jsonLit(v) + `"}` }, "status "},
		{"long dimension", func(v string) string { return `{"st":200,"d":"` + jsonLit("xyz"+v) + `"}` }, "more than the maximum 2: "},
	}
	for _, v := range awkward() {
		for _, c := range cases {
			in := c.payload(v)
			err := d.DecodeRecord([]byte(in), ts, &Event{})
			if err == nil {
				t.Fatalf("%s %q: accepted", c.name, in)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) {
				t.Fatalf("%s %q: message %q is not valid UTF-8", c.name, v, msg)
			}
			if back := jsonDecoded(t, msg); back != msg {
				t.Fatalf("%s %q: message %q reads back from JSON as %q", c.name, v, msg, back)
			}
			i := strings.Index(msg, c.before)
			if i < 0 {
				t.Fatalf("%s %q: message %q lacks %q", c.name, v, msg, c.before)
			}
			var got string
			if err := json.NewDecoder(strings.NewReader(msg[i+len(c.before):])).Decode(&got); err != nil {
				t.Fatalf("%s %q: the quoted value in %q is not a JSON string: %v", c.name, v, msg, err)
			}
			want := v
			if c.name == "long dimension" {
				want = "xyz" + v
			}
			if len(want) > maxExcerpt {
				continue // TestQuoteCutsLongValues
			}
			if want = jsonDecoded(t, want); got != want {
				t.Errorf("%s: message %q quotes %q, want %q", c.name, msg, got, want)
			}
		}
	}
	// The field name is quoted the same way.
	for _, v := range awkward() {
		d := mustDecoder(t, Schema{Dimensions: []Dimension{{Name: "d", Path: Path{"f" + v}}}})
		err := d.DecodeRecord([]byte(`{}`), ts, &Event{})
		var e *Error
		if !errors.As(err, &e) || e.Reason != MissingField {
			t.Fatalf("%q: got %v, want missing_field", v, err)
		}
		var got string
		msg := err.Error()
		if err := json.NewDecoder(strings.NewReader(strings.TrimPrefix(msg, "event: field "))).Decode(&got); err != nil {
			t.Fatalf("field %q: message %q: the quoted field is not a JSON string: %v", v, msg, err)
		}
		if len(v) < maxExcerpt && got != jsonDecoded(t, "f"+v) {
			t.Errorf("field %q: message %q quotes %q", v, msg, got)
		}
	}
}

// TestLongValuesMakeShortMessages: a 600 KiB field does not make a 600 KiB error (the
// excerpt is at most 64 bytes of the value, 6 bytes each once escaped).
func TestLongValuesMakeShortMessages(t *testing.T) {
	big := strings.Repeat("\\u0007x", 100<<10) // 600 KiB of JSON text
	digits := strings.Repeat("9", 600<<10)
	reqLog := RequestLogSchema()
	reqLog.MaxSize = 2 << 20
	tests := []struct {
		name string
		in   string
	}{
		{"timestamp text", `{"timestamp":"` + big + `"}`},
		{"timestamp number", `{"timestamp":` + digits + `}`},
		{"negative latency", `{"timestamp":1732230000123,"latency_ms":-` + digits + `}`},
		{"latency text", `{"timestamp":1732230000123,"latency_ms":"` + big + `"}`},
		{"status number", `{"timestamp":1732230000123,"latency_ms":1,"status":` + digits + `}`},
		{"status text", `{"timestamp":1732230000123,"latency_ms":1,"status":"` + big + `"}`},
		{"endpoint", `{"timestamp":1732230000123,"latency_ms":1,"status":200,"endpoint":"` + big + `"}`},
		{"endpoint unescaped", `{"timestamp":1732230000123,"latency_ms":1,"status":200,"endpoint":"` + digits + `"}`},
	}
	d := mustDecoder(t, reqLog)
	d.SetNow(ts)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.DecodeRecord([]byte(tt.in), ts, &Event{})
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); len(msg) > 600 {
				t.Errorf("a message of %d bytes: %.600s", len(msg), msg)
			}
		})
	}
}
