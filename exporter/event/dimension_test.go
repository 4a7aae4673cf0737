package event

import (
	"errors"
	"strings"
	"testing"
)

// TestDimensionLength checks the bound on a dimension value's length in bytes, once
// unescaped, at the limit and one byte past it.
func TestDimensionLength(t *testing.T) {
	schema := func(max int) Schema {
		return Schema{
			MaxDimensionLength: max,
			Dimensions: []Dimension{
				{Name: "endpoint", Path: Path{"endpoint"}},
				{Name: "status", Path: Path{"status"}, Optional: true},
				{Name: "region", Path: Path{"labels", "region"}, Optional: true},
			},
		}
	}
	rep := strings.Repeat
	tests := []struct {
		name  string
		max   int // Schema.MaxDimensionLength
		in    string
		field string // "" when the event is valid
		want  string // dimension endpoint when valid
	}{
		{"default limit, at it", 0, `{"endpoint":"` + rep("a", 1024) + `"}`, "", rep("a", 1024)},
		{"default limit, 1 byte past it", 0, `{"endpoint":"` + rep("a", 1025) + `"}`, "endpoint", ""},
		{"at the limit", 16, `{"endpoint":"` + rep("a", 16) + `"}`, "", rep("a", 16)},
		{"1 byte past it", 16, `{"endpoint":"` + rep("a", 17) + `"}`, "endpoint", ""},
		{"empty", 16, `{"endpoint":""}`, "", ""},
		{"escapes: the unescaped length counts", 16, `{"endpoint":"` + rep(`\u0061`, 16) + `"}`, "", rep("a", 16)},
		{"escapes, 1 byte past it", 16, `{"endpoint":"` + rep(`\u0061`, 16) + `\n"}`, "endpoint", ""},
		{"bytes, not characters", 16, `{"endpoint":"` + rep("é", 8) + `"}`, "", rep("é", 8)},
		{"bytes, not characters, 1 past", 16, `{"endpoint":"` + rep("é", 8) + `a"}`, "endpoint", ""},
		{"escaped non-ASCII, 1 past", 16, `{"endpoint":"` + rep(`\u00e9`, 8) + `a"}`, "endpoint", ""},
		{"number at the limit", 3, `{"endpoint":"a","status":200}`, "", "a"},
		{"number 1 past", 3, `{"endpoint":"a","status":2000}`, "status", ""},
		{"number literal text counts", 3, `{"endpoint":"a","status":2e2}`, "", "a"},
		{"boolean past", 3, `{"endpoint":"a","status":false}`, "status", ""},
		{"nested", 3, `{"endpoint":"a","labels":{"region":"eu-1"}}`, "labels.region", ""},
		{"limit 1", 1, `{"endpoint":"ab"}`, "endpoint", ""},
		{"before an invalid UTF-8 check", 3, "{\"endpoint\":\"\xff\xff\xff\xff\"}", "endpoint", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDecoder(t, schema(tt.max))
			var ev Event
			err := d.DecodeRecord([]byte(tt.in), ts, &ev)
			if tt.field == "" {
				if err != nil || string(ev.Dims[0]) != tt.want {
					t.Fatalf("got %v, endpoint %q; want %q", err, ev.Dims, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != DimensionTooLong || e.Field != tt.field {
				t.Fatalf("got %v, want dimension_too_long of %q", err, tt.field)
			}
		})
	}
}

// A request log with a 600 KiB endpoint (issue 7) is refused with a short message.
func TestHugeEndpoint(t *testing.T) {
	d := mustDecoder(t, RequestLogSchema())
	d.SetNow(ts)
	in := `{"timestamp":1732230000123,"endpoint":"/` + strings.Repeat("a", 600<<10) + `","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`
	err := d.DecodeRecord([]byte(in), ts, &Event{})
	want := `event: field "endpoint": dimension_too_long: value of 614401 bytes, more than the maximum 1024: "/` + strings.Repeat("a", 63) + `"... (614401 bytes)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %.300v\nwant %s", err, want)
	}
}

// Defaults count too: Validate refuses one longer than the limit, so no event can
// take it.
func TestDimensionDefaultLength(t *testing.T) {
	f := func(max int, def string, wantErr string) {
		t.Helper()
		s := Schema{MaxDimensionLength: max, Dimensions: []Dimension{{Name: "zone", Path: Path{"zone"}, Optional: true, Default: def}}}
		d, err := NewDecoder(s)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("default of %d bytes, max %d: got %v, want %q", len(def), max, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev Event
		if err := d.DecodeRecord([]byte(`{}`), ts, &ev); err != nil || string(ev.Dims[0]) != def {
			t.Errorf("got %v %q, want the default", err, ev.Dims)
		}
	}
	f(4, "abcd", "")
	f(4, "abcde", "dimensions[0].default: 5 bytes, more than max_dimension_length (4)")
	f(0, strings.Repeat("x", 1024), "")
	f(0, strings.Repeat("x", 1025), "dimensions[0].default: 1025 bytes, more than max_dimension_length (1024)")
	f(-1, "", "max_dimension_length: must be >= 0, got -1")
}
