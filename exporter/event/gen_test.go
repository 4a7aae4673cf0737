package event

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// gen writes random JSON events in many spellings.
type gen struct {
	rng *rand.Rand
	b   []byte
}

func (g *gen) ws() {
	for n := g.rng.IntN(6) - 3; n > 0; n-- {
		g.b = append(g.b, " \t\n\r"[g.rng.IntN(4)])
	}
}

// str writes s as a JSON string, escaping some characters that need no escape.
func (g *gen) str(s string) {
	g.b = append(g.b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			g.b = append(g.b, '\\', byte(r))
		case r < 0x20 || g.rng.IntN(8) == 0:
			if r == '/' && g.rng.IntN(2) == 0 {
				g.b = append(g.b, `\/`...)
			} else if r > 0xffff {
				r1, r2 := utf16Pair(r)
				g.b = fmt.Appendf(g.b, `\u%04x\u%04X`, r1, r2)
			} else {
				g.b = fmt.Appendf(g.b, `\u%04x`, r)
			}
		default:
			g.b = utf8.AppendRune(g.b, r)
		}
	}
	g.b = append(g.b, '"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + r>>10, 0xdc00 + r&0x3ff
}

var alphabet = []rune("abcxyz/-_.:0123456789 é漢😀\"\\\n\t\x01")

func (g *gen) word() string {
	var sb strings.Builder
	for n := g.rng.IntN(12); n > 0; n-- {
		sb.WriteRune(alphabet[g.rng.IntN(len(alphabet))])
	}
	return sb.String()
}

// junk writes a random JSON value.
func (g *gen) junk(depth int) {
	g.ws()
	switch k := g.rng.IntN(8); {
	case k == 0 && depth < 3:
		g.b = append(g.b, '{')
		for i, n := 0, g.rng.IntN(4); i < n; i++ {
			if i > 0 {
				g.b = append(g.b, ',')
			}
			g.ws()
			g.str(g.word())
			g.ws()
			g.b = append(g.b, ':')
			g.junk(depth + 1)
		}
		g.ws()
		g.b = append(g.b, '}')
	case k == 1 && depth < 3:
		g.b = append(g.b, '[')
		for i, n := 0, g.rng.IntN(4); i < n; i++ {
			if i > 0 {
				g.b = append(g.b, ',')
			}
			g.junk(depth + 1)
		}
		g.ws()
		g.b = append(g.b, ']')
	case k == 2:
		g.b = append(g.b, []string{"true", "false", "null"}[g.rng.IntN(3)]...)
	case k == 3:
		g.b = append(g.b, g.number()...)
	default:
		g.str(g.word())
	}
	g.ws()
}

func (g *gen) number() string {
	switch g.rng.IntN(6) {
	case 0:
		return strconv.Itoa(g.rng.IntN(2000))
	case 1:
		return strconv.FormatFloat(g.rng.Float64()*1000, 'f', g.rng.IntN(6), 64)
	case 2:
		return strconv.FormatFloat(g.rng.ExpFloat64()*100, 'e', g.rng.IntN(8), 64)
	case 3:
		return "-" + strconv.FormatFloat(g.rng.Float64()*10, 'f', -1, 64)
	case 4:
		return strconv.FormatFloat(g.rng.NormFloat64()*1e20, 'g', -1, 64)
	}
	return "0"
}

// field is one key with a function writing its value.
type field struct {
	key   string
	value func()
}

// object writes the fields in a random order, with junk fields, repeated keys, and
// absent or null fields now and then.
func (g *gen) object(fields []field) {
	g.rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	for n := g.rng.IntN(3); n > 0; n-- {
		fields = append(fields, field{g.word(), func() { g.junk(0) }})
	}
	if g.rng.IntN(8) == 0 && len(fields) > 0 { // a repeated key: the last one counts
		f := fields[g.rng.IntN(len(fields))]
		fields = append([]field{{f.key, func() { g.junk(0) }}}, fields...)
	}
	g.ws()
	g.b = append(g.b, '{')
	first := true
	for _, f := range fields {
		switch g.rng.IntN(40) {
		case 0:
			continue
		case 1:
			f.value = func() { g.b = append(g.b, "null"...) }
		}
		if !first {
			g.b = append(g.b, ',')
		}
		first = false
		g.ws()
		g.str(f.key)
		g.ws()
		g.b = append(g.b, ':')
		g.ws()
		f.value()
		g.ws()
	}
	g.b = append(g.b, '}')
	g.ws()
}

// extremeTimes are event times (ms) every bound must refuse, or the bounds
// themselves (DefaultMinTime is the first time accepted).
var extremeTimes = []int64{0, -1, -1732230000123, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
	10413792000000 /* 2300-01-01 */, 946684800000, 946684799999}

func (g *gen) timestamp() {
	if g.rng.IntN(20) == 0 {
		ms := extremeTimes[g.rng.IntN(len(extremeTimes))]
		if g.rng.IntN(2) == 0 {
			g.b = strconv.AppendInt(g.b, ms, 10)
		} else {
			g.str(strconv.FormatInt(ms, 10))
		}
		return
	}
	ms := 1732230000000 + g.rng.Int64N(1e10)
	tm := time.UnixMilli(ms).Add(time.Duration(g.rng.IntN(1e6)))
	switch g.rng.IntN(9) {
	case 0:
		g.b = strconv.AppendInt(g.b, ms, 10)
	case 1:
		g.b = strconv.AppendFloat(g.b, float64(ms)/1000, 'f', 3, 64)
	case 2:
		g.b = strconv.AppendInt(g.b, tm.UnixMicro(), 10)
	case 3:
		g.b = strconv.AppendInt(g.b, tm.UnixNano(), 10)
	case 4:
		g.str(strconv.FormatInt(ms, 10))
	case 5:
		g.str(tm.UTC().Format(time.RFC3339Nano))
	case 6:
		g.str(tm.In(time.FixedZone("", (g.rng.IntN(2*1439+1)-1439)*60)).Format(time.RFC3339))
	case 7:
		g.str(tm.Format("2006-01-02T15:04:05.000Z07:00"))
	default:
		g.b = strconv.AppendInt(g.b, tm.Unix(), 10)
	}
}

// recordTime is a Kafka record time: mostly near the generated event times, now
// and then absurd.
func (g *gen) recordTime() int64 {
	if g.rng.IntN(10) == 0 {
		return extremeTimes[g.rng.IntN(len(extremeTimes))]
	}
	return 1732230000000 + g.rng.Int64N(1e10)
}

func (g *gen) requestLog() []byte {
	g.b = g.b[:0]
	statuses := []string{"200", "201", "204", "304", "404", "429", "500", "503", `"200"`, `"503"`, "200.0", "5e2", "-1", "200.5", `"OK"`, "true"}
	g.object([]field{
		{"timestamp", g.timestamp},
		{"endpoint", func() {
			if g.rng.IntN(20) == 0 { // around max_dimension_length (1024), maybe with escapes
				g.str("/" + strings.Repeat("a", 1021+g.rng.IntN(5)))
			} else {
				g.str("/api/" + g.word())
			}
		}},
		{"method", func() { g.str([]string{"GET", "POST", "PUT", "DELETE"}[g.rng.IntN(4)]) }},
		{"status", func() { g.b = append(g.b, statuses[g.rng.IntN(len(statuses))]...) }},
		{"region", func() {
			if g.rng.IntN(10) == 0 {
				g.junk(0)
			} else {
				g.str([]string{"us-east-1", "eu-west-1", g.word()}[g.rng.IntN(3)])
			}
		}},
		{"latency_ms", func() {
			if g.rng.IntN(4) == 0 {
				g.str(g.number())
			} else {
				g.b = append(g.b, g.number()...)
			}
		}},
	})
	return g.b
}

func (g *gen) metricPoint() []byte {
	g.b = g.b[:0]
	labels := func() {
		if g.rng.IntN(10) == 0 {
			g.junk(0)
			return
		}
		g.object([]field{
			{"host", func() { g.str(g.word()) }},
			{"region", func() { g.str(g.word()) }},
		})
	}
	g.object([]field{
		{"name", func() { g.str(g.word()) }},
		{"value", func() { g.b = append(g.b, g.number()...) }},
		{"labels", labels},
		{"meta", func() {
			g.object([]field{{"placement", func() { g.object([]field{{"zone", func() { g.junk(2) }}}) }}})
		}},
		{"timestamp", g.timestamp},
	})
	return g.b
}
