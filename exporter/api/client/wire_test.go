package client

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		wire string
	}{
		{1795341600000, "1795341600"},
		{1795341600500, "1795341600.5"},
		{1795341600001, "1795341600.001"},
		{1795341600120, "1795341600.12"},
		{0, "0"},
		{-1, "-0.001"},
		{-1500, "-1.5"},
		{math.MaxInt64, "9223372036854775.807"},
		{math.MinInt64 + 1, "-9223372036854775.807"},
	} {
		b, err := json.Marshal(Timestamp(tc.ms))
		if err != nil || string(b) != tc.wire {
			t.Errorf("%d: %s, %v; want %s", tc.ms, b, err, tc.wire)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil || int64(back) != tc.ms {
			t.Errorf("%s: read back %d, %v", b, back, err)
		}
	}
	for in, want := range map[string]int64{"1.0005": 1001, "1.0004999": 1000, "-1.0005": -1001, ".5": 500, "5.": 5000,
		"1.7953416e9": 1795341600000, "007": 7000} {
		if got, err := ParseTimestamp(in); err != nil || int64(got) != want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", ".", "1.2.3", "+1", "1e400", "NaN", "inf", "9223372036854776", "1 ", "0x10", "1_000"} {
		if got, err := ParseTimestamp(in); err == nil {
			t.Errorf("ParseTimestamp(%q) = %d, want an error", in, got)
		}
	}
	if got := TimestampOf(time.Date(2026, 11, 22, 10, 0, 0, 999_999_999, time.UTC)); got != 1795341600999 {
		t.Errorf("TimestampOf truncates to the millisecond: %d", got)
	}
}

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		wire string
	}{{1.5, "1.5"}, {0, "0"}, {math.NaN(), "null"}, {math.Inf(1), `"+Inf"`}, {math.Inf(-1), `"-Inf"`}, {1e21, "1e+21"}} {
		b, err := json.Marshal(map[string]Value{"x": Value(tc.v)})
		if err != nil || string(b) != `{"x":`+tc.wire+`}` {
			t.Errorf("%v: %s, %v", tc.v, b, err)
		}
		var back map[string]Value
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := float64(back["x"]); got != tc.v && !(math.IsNaN(got) && math.IsNaN(tc.v)) {
			t.Errorf("%s read back as %v", b, got)
		}
	}
	var v Value
	if err := json.Unmarshal([]byte(`"fast"`), &v); err == nil {
		t.Error(`"fast" read as a value`)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		wire string
	}{{time.Minute, `"1m"`}, {90 * time.Minute, `"1h30m"`}, {48 * time.Hour, `"2d"`}, {1500 * time.Millisecond, `"1s500ms"`}, {0, `"0s"`}} {
		b, _ := json.Marshal(Duration(tc.d))
		var back Duration
		if string(b) != tc.wire || json.Unmarshal(b, &back) != nil || time.Duration(back) != tc.d {
			t.Errorf("%v: %s, read back %v", tc.d, b, time.Duration(back))
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`60.5`), &d); err != nil || time.Duration(d) != 60500*time.Millisecond {
		t.Errorf("seconds: %v %v", time.Duration(d), err)
	}
}

func TestParseMatchers(t *testing.T) {
	for in, want := range map[string]string{
		`endpoint="/api/x"`:                     `[endpoint="/api/x"]`,
		` region =~ "eu-.*" `:                   `[region=~"eu-.*"]`,
		`region!~'us-\'x\'' `:                   `[region!~"us-'x'"]`,
		`path!="a\"b\\c\n"`:                     `[path!="a\"b\\c\n"]`,
		"path=`raw\\d+`":                        "[path=\"raw\\\\d+\"]",
		`{a="1", b!="2",c=~"3",}`:               `[a="1" b!="2" c=~"3"]`,
		`{ _x9 = "" }`:                          `[_x9=""]`,
		`city="Zürich"`:                         `[city="Zürich"]`,
		`k='say "hi"'`:                          `[k="say \"hi\""]`,
		`k="\u00e9\x41"`:                        `[k="éA"]`,
		`{endpoint="/a",region=~"eu-.*"}` + " ": `[endpoint="/a" region=~"eu-.*"]`,
	} {
		ms, err := ParseMatchers(in)
		var got []string
		for _, m := range ms {
			got = append(got, m.String())
		}
		if err != nil || "["+strings.Join(got, " ")+"]" != want {
			t.Errorf("ParseMatchers(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{``, `endpoint`, `endpoint=`, `endpoint="x`, `="x"`, `9a="x"`, `a=="x"`, `a="x" b="y"`, `{a="x"`,
		`{}`, `{a="x" b="y"}`, `a="\q"`, `a=x`, `a-b="x"`, `a="x"}`, `a=~"x`, "a=\"x\ny\""} {
		if ms, err := ParseMatchers(in); err == nil {
			t.Errorf("ParseMatchers(%q) = %v, want an error", in, ms)
		}
	}
}

// FuzzParseMatchers: never panics, and what it reads prints back as a
// matcher it reads the same.
func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{`endpoint="/api/x"`, `{a="1", b!~'x\'y'}`, "a=~`raw`", `k="\xff\u00e9"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			return
		}
		for _, m := range ms {
			back, err := ParseMatchers(m.String())
			if err != nil || len(back) != 1 || back[0] != m {
				t.Fatalf("%q: %#v prints as %s, read back %#v, %v", s, m, m, back, err)
			}
		}
	})
}
