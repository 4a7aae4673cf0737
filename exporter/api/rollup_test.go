package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
)

// query_range over an aggregation with rollups: each point says the
// resolution it read, max_resolution bounds it, and the values are the same
// either way. /aggregations lists the rollups.
func TestRangeResolution(t *testing.T) {
	yml := strings.Replace(testConfig, "    retention: 48h\n", "    retention: 48h\n    rollups: [{resolution: 1h, retention: 30d}]\n", 1)
	c, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	// Events over three hours; stream time 3h30m: the three hours are final.
	b := newBackend(t, newWorldOf(t, c, randomEvents(21, 3000, t0, 3*hour), 2, t0+3*hour+30*minute), query.Limits{})
	s := newServer(t, b, Options{Config: c})
	get := func(maxRes string) client.RangeResult {
		t.Helper()
		q := url.Values{"aggregation": {"req_1m"}, "group_by": {""}, "measure": {"count", "p99"},
			"from": {time.UnixMilli(t0).UTC().Format(time.RFC3339)}, "to": {time.UnixMilli(t0 + 3*hour).UTC().Format(time.RFC3339)}, "step": {"1h"}}
		if maxRes != "" {
			q.Set("max_resolution", maxRes)
		}
		code, _, body := s.get(t, Prefix+"query_range?"+q.Encode())
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		if !strings.Contains(string(body), `"resolution":"1`) {
			t.Errorf("no resolution in %s", body)
		}
		var r struct{ Data client.RangeResult }
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return r.Data
	}
	auto, base := get(""), get("1m")
	if len(auto.Series) != 1 || len(auto.Series[0].Points) != 3 || len(base.Series[0].Points) != 3 {
		t.Fatalf("points: %+v / %+v", auto.Series, base.Series)
	}
	for i, p := range auto.Series[0].Points {
		bp := base.Series[0].Points[i]
		if time.Duration(p.Resolution) != time.Hour || time.Duration(bp.Resolution) != time.Minute {
			t.Errorf("point %d: resolution %v, with max_resolution=1m %v; want 1h, 1m", i, p.Resolution, bp.Resolution)
		}
		if p.Values["count"] != bp.Values["count"] || p.Values["p99"] != bp.Values["p99"] {
			t.Errorf("point %d: %v from the rollup, %v from windows", i, p.Values, bp.Values)
		}
		if p.Windows >= bp.Windows {
			t.Errorf("point %d merged %d windows from the rollup, %d from windows", i, p.Windows, bp.Windows)
		}
	}
	code, _, body := s.get(t, Prefix+"aggregations")
	if code != http.StatusOK || !strings.Contains(string(body), `"rollups":[{"resolution":"1h","retention":"30d"}]`) {
		t.Errorf("status %d: %s", code, body)
	}
}
