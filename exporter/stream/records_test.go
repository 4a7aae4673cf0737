package stream

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/internal/jsonstr"
	"github.com/kwindow/kwindow/exporter/store"
)

// nastyStrings are dimension values a producer can send: every control character,
// quotes, backslashes, non-ASCII, the JavaScript line separators and invalid UTF-8.
func nastyStrings() []string {
	var ss []string
	for c := 0; c < 0x20; c++ {
		ss = append(ss, "a"+string(rune(c))+"b")
	}
	return append(ss, `"`, `\`, `\"`, "\x7f", "é/ü/日本/😀", "\u2028\u2029", "bad\xffutf8\xc3", "\xed\xa0\x80", "", "</script>")
}

// TestJSONStrings: every string kwindow writes into JSON round-trips through
// encoding/json, the way any consumer of the output topic reads it. (Go's
// strconv quoting, used before, writes \a and \x00, which JSON parsers reject.)
func TestJSONStrings(t *testing.T) {
	for _, s := range nastyStrings() {
		got := jsonstr.Append(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q encodes as %s: not JSON: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// encoding/json's own reading of the same bytes is the reference for
			// invalid UTF-8: one U+FFFD per invalid byte.
			ref, _ := json.Marshal(s)
			_ = json.Unmarshal(ref, &want)
		}
		if back != want {
			t.Errorf("%q round-trips as %q, want %q", s, back, want)
		}
	}
}

// TestResultJSON: output records (key and value) are valid JSON whatever the
// dimension values, and carry them back exactly.
func TestResultJSON(t *testing.T) {
	cfg := config.Default()
	agg := &cfg.Aggregations[0] // endpoint_1m
	for _, s := range nastyStrings() {
		a := aggregate.New(6, true)
		c := engine.Change{Agg: 0, Group: string(store.AppendGroup(nil, []byte(s))), Start: 60000,
			Value: aggregate.Value{End: 120000, Agg: a}}
		vals, _ := store.SplitGroup([]byte(c.Group))
		var out struct {
			Aggregation string            `json:"aggregation"`
			Key         map[string]string `json:"key"`
		}
		v := appendResult(nil, agg, vals, &c)
		if err := json.Unmarshal(v, &out); err != nil {
			t.Fatalf("result for %q is not JSON: %v\n%s", s, err, v)
		}
		var want string
		ref, _ := json.Marshal(s)
		_ = json.Unmarshal(ref, &want)
		if out.Key["endpoint"] != want || out.Aggregation != agg.Name {
			t.Errorf("result for %q carries key %q, aggregation %q", s, out.Key["endpoint"], out.Aggregation)
		}
		// The record key quotes the value the same way: its quoted part parses.
		k := resultKey(nil, agg, vals, c.Start)
		quoted := k[bytes.IndexByte(k, '=')+1 : bytes.LastIndexByte(k, '}')]
		var kv string
		if err := json.Unmarshal(quoted, &kv); err != nil || kv != want {
			t.Errorf("result key %s: quoted value %s does not parse back to %q: %v", k, quoted, want, err)
		}
	}
}

// TestFitCopy: a dead-letter or late copy never exceeds the limit, whatever the
// sizes of the original key and value, keeps everything when it fits, and says
// what it cut with the original sizes and hash.
func TestFitCopy(t *testing.T) {
	const limit = 10000
	rt := &Runtime{copyLimit: limit, metrics: newMetrics(config.Default(), nil)}
	f := func(keyLen, valueLen int) {
		t.Helper()
		key := bytes.Repeat([]byte("k"), keyLen)
		value := bytes.Repeat([]byte("v"), valueLen)
		if keyLen == 0 {
			key = nil
		}
		in := &kgo.Record{Topic: "requests", Partition: 3, Offset: 42, Key: key, Value: value}
		c := rt.fitCopy(in, "dead_letter", kgo.RecordHeader{Key: HeaderReason, Value: []byte("not_json")},
			kgo.RecordHeader{Key: HeaderError, Value: []byte("event: not_json: unexpected end")})
		if n := wireSize(c); n > limit {
			t.Errorf("key %d value %d: copy is %d bytes on the wire, over the %d limit", keyLen, valueLen, n, limit)
		}
		truncated := header(c, HeaderTruncated)
		if wireSize(&kgo.Record{Key: key, Value: value, Headers: sourceHeaders(in,
			kgo.RecordHeader{Key: HeaderReason, Value: []byte("not_json")},
			kgo.RecordHeader{Key: HeaderError, Value: []byte("event: not_json: unexpected end")})}) <= limit-100 {
			if truncated != "" || !bytes.Equal(c.Key, key) || !bytes.Equal(c.Value, value) {
				t.Errorf("key %d value %d: fits, yet the copy was cut (%q)", keyLen, valueLen, truncated)
			}
			return
		}
		if truncated == "" {
			t.Fatalf("key %d value %d: cut without a %s header", keyLen, valueLen, HeaderTruncated)
		}
		sum := sha256.Sum256(value)
		if got := header(c, HeaderOriginalHash); got != hex.EncodeToString(sum[:]) {
			t.Errorf("hash header %q, want the SHA-256 of the whole value", got)
		}
		if got := header(c, HeaderOriginalValue); got != fmt.Sprint(valueLen) {
			t.Errorf("original value size header %q, want %d", got, valueLen)
		}
		if got := header(c, HeaderOriginalKey); got != fmt.Sprint(keyLen) {
			t.Errorf("original key size header %q, want %d", got, keyLen)
		}
		if !bytes.HasPrefix(value, c.Value) || !bytes.HasPrefix(key, c.Key) {
			t.Errorf("the copy must keep the beginning of the key and value")
		}
		if strings.Contains(truncated, "key") != (len(c.Key) < keyLen) || strings.Contains(truncated, "value") != (len(c.Value) < valueLen) {
			t.Errorf("%s = %q, but key %d of %d and value %d of %d kept", HeaderTruncated, truncated, len(c.Key), keyLen, len(c.Value), valueLen)
		}
		if len(c.Value) < valueLen && len(c.Key) == keyLen && wireSize(c) < limit-400 {
			t.Errorf("key %d value %d: copy is only %d bytes: cut more than needed", keyLen, valueLen, wireSize(c))
		}
	}
	for _, kl := range []int{0, 1, 100, limit / 2, limit - 1, limit, limit + 1, 3 * limit} {
		for _, vl := range []int{0, 1, 100, limit / 2, limit - 500, limit - 1, limit, limit + 1, 1 << 20} {
			f(kl, vl)
		}
	}
}

// wireSize is the size of r alone in a record batch, computed the way Kafka
// encodes it (kgo's own encoder), independently of fitCopy's estimate.
func wireSize(r *kgo.Record) int {
	varint := func(n int) int {
		u := uint64(n<<1) ^ uint64(n>>63)
		l := 1
		for u >= 0x80 {
			u >>= 7
			l++
		}
		return l
	}
	body := 1 + varint(0) + varint(0) // attributes, timestamp delta, offset delta
	if r.Key == nil {
		body += varint(-1)
	} else {
		body += varint(len(r.Key)) + len(r.Key)
	}
	body += varint(len(r.Value)) + len(r.Value) + varint(len(r.Headers))
	for _, h := range r.Headers {
		body += varint(len(h.Key)) + len(h.Key) + varint(len(h.Value)) + len(h.Value)
	}
	return 61 + varint(body) + body // the record batch header is 61 bytes
}
