package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
)

const (
	provisioningDir = "provisioning"
	dashboardsDir   = "provisioning/dashboards"
	pluginID        = "kwindow-kwindow-datasource"
)

// Grafana's own data sources, which need no provisioning.
var builtinDatasources = map[string]string{
	"-- Grafana --":   "grafana",
	"-- Mixed --":     "datasource",
	"-- Dashboard --": "datasource",
}

// The panel types the dashboards may use: React panels of Grafana 10.0 (no Angular
// graph panel, which the Grafana built in ../shared/grafana cannot draw).
var panelTypes = []string{"timeseries", "stat", "table", "bargauge"}

// What each dashboard is for: the series (Prometheus) or query types (kwindow) it
// must show.
var wantDashboards = map[string][]string{
	"kwindow-overview": {
		"kwindow_endpoint_1m_requests_total", "kwindow_endpoint_1m_errors_total", "kwindow_endpoint_1m_latency_seconds",
		"kwindow_status_5m_requests_total", "kwindow_region_1m_requests_total", "kwindow_region_1m_latency_seconds",
		"kwindow_endpoint_1m_anomaly_score", "kwindow_region_1m_anomaly_score", "ALERTS",
	},
	"kwindow-internals": {
		"kwindow_consumer_lag", "kwindow_records_processed_total", "kwindow_commit_duration_seconds_bucket",
		"kwindow_aborted_transactions_total", "kwindow_late_records_total", "kwindow_invalid_records_total",
		"kwindow_store_live_bytes", "kwindow_restore_remaining_records", "kwindow_tasks",
	},
	"kwindow-live": {
		"kwindow:live", "kwindow:range", "kwindow:topk", "kwindow:latest", "kwindow:anomalies",
		"kwindow_endpoint_1m_window_latency_seconds",
	},
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID         int               `json:"id"`
		Type       string            `json:"type"`
		Title      string            `json:"title"`
		Datasource *dsRef            `json:"datasource"`
		Interval   string            `json:"interval"`
		Targets    []json.RawMessage `json:"targets"`
		Options    struct {
			ReduceOptions *struct {
				Values bool `json:"values"`
			} `json:"reduceOptions"`
		} `json:"options"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
	} `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string          `json:"name"`
			BuiltIn    int             `json:"builtIn"`
			Datasource dsRef           `json:"datasource"`
			Target     json.RawMessage `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *dsRef          `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   *string         `json:"allValue"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// promTarget is a Prometheus query as Grafana 10 stores it.
type promTarget struct {
	RefID        string `json:"refId"`
	Datasource   *dsRef `json:"datasource"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Range        bool   `json:"range"`
	Instant      bool   `json:"instant"`
	Format       string `json:"format"`
	Interval     string `json:"interval"`
	EditorMode   string `json:"editorMode"`
	Hide         bool   `json:"hide"`
}

// kwTarget is the kwindow data source's query (grafana-plugin/QUERY_MODEL.md),
// read strictly so that a misspelt field fails here rather than being ignored by
// the plugin.
type kwTarget struct {
	RefID      string   `json:"refId"`
	Datasource *dsRef   `json:"datasource"`
	QueryType  string   `json:"queryType"`
	Aggr       string   `json:"aggregation"`
	Measures   []string `json:"measures"`
	Quantile   *float64 `json:"quantile"`
	Filters    []struct {
		Dim   string `json:"dim"`
		Op    string `json:"op"`
		Value string `json:"value"`
	} `json:"filters"`
	GroupBy      *[]string `json:"groupBy"`
	LegendFormat string    `json:"legendFormat"`
	Step         string    `json:"step"`
	K            *int      `json:"k"`
	Bottom       bool      `json:"bottom"`
	Live         bool      `json:"live"`
	ClosedOnly   bool      `json:"closedOnly"`
	Stale        bool      `json:"stale"`
	Threshold    *float64  `json:"threshold"`
	Hide         bool      `json:"hide"`
}

// kwVariableQuery is the kwindow data source's template variable query.
type kwVariableQuery struct {
	RefID       string `json:"refId"`
	Aggregation string `json:"aggregation"`
	Dimension   string `json:"dimension"`
	Prefix      string `json:"prefix"`
	Filters     []struct {
		Dim   string `json:"dim"`
		Op    string `json:"op"`
		Value string `json:"value"`
	} `json:"filters"`
}

// provisionedDatasources is provisioning/datasources/datasources.yml.
type provisionedDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		Access         string            `yaml:"access"`
		URL            string            `yaml:"url"`
		IsDefault      bool              `yaml:"isDefault"`
		Editable       bool              `yaml:"editable"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// provisionedDashboards is provisioning/dashboards/dashboards.yml.
type provisionedDashboards struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// decodeYAML reads path strictly into v.
func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// datasources returns the provisioned data sources' types by uid.
func datasources(t *testing.T) map[string]string {
	t.Helper()
	var p provisionedDatasources
	decodeYAML(t, filepath.Join(provisioningDir, "datasources", "datasources.yml"), &p)
	out := map[string]string{}
	for _, ds := range p.Datasources {
		if ds.UID == "" || out[ds.UID] != "" {
			t.Errorf("datasources.yml: data source %q: uid %q missing or repeated", ds.Name, ds.UID)
		}
		out[ds.UID] = ds.Type
	}
	return out
}

var envRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// provisioningEnv returns the environment variables the provisioning files use
// (Grafana expands $VAR and ${VAR} in their values), by file.
func provisioningEnv(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range []string{"datasources/datasources.yml", "dashboards/dashboards.yml"} {
		data, err := os.ReadFile(filepath.Join(provisioningDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			t.Fatal(err)
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode {
				for _, m := range envRE.FindAllStringSubmatch(n.Value, -1) {
					out[m[1]+m[2]] = append(out[m[1]+m[2]], f)
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&root)
	}
	return out
}

// TestProvisioning: the data sources the dashboards name, and a dashboard provider
// whose path, with PROVISIONING_DIR expanded as run.sh and docker-compose.yml set
// it, is the folder of the dashboards.
func TestProvisioning(t *testing.T) {
	var p provisionedDatasources
	decodeYAML(t, filepath.Join(provisioningDir, "datasources", "datasources.yml"), &p)
	want := map[string]string{"prometheus": "prometheus", "kwindow": pluginID}
	got := datasources(t)
	for uid, typ := range want {
		if got[uid] != typ {
			t.Errorf("data source uid %q: type %q, want %q", uid, got[uid], typ)
		}
	}
	for _, ds := range p.Datasources {
		switch ds.UID {
		case "prometheus":
			if ds.URL != "${PROMETHEUS_URL}" || ds.Access != "proxy" {
				t.Errorf("prometheus: url %q access %q, want ${PROMETHEUS_URL} through the server (proxy)", ds.URL, ds.Access)
			}
		case "kwindow":
			urls, _ := ds.JSONData["urls"].([]any)
			if len(urls) != 2 || urls[0] != "${KWINDOW_URL_0}" || urls[1] != "${KWINDOW_URL_1}" {
				t.Errorf("kwindow: jsonData.urls %v, want [${KWINDOW_URL_0} ${KWINDOW_URL_1}]", ds.JSONData["urls"])
			}
			if to, ok := ds.JSONData["timeoutSeconds"].(int); !ok || to <= 0 {
				t.Errorf("kwindow: jsonData.timeoutSeconds %v, want a positive number", ds.JSONData["timeoutSeconds"])
			}
		}
	}

	var d provisionedDashboards
	decodeYAML(t, filepath.Join(provisioningDir, "dashboards", "dashboards.yml"), &d)
	if len(d.Providers) != 1 || d.Providers[0].Type != "file" {
		t.Fatalf("dashboards.yml: want one file provider, got %+v", d.Providers)
	}
	abs, err := filepath.Abs(provisioningDir)
	if err != nil {
		t.Fatal(err)
	}
	path := os.Expand(d.Providers[0].Options.Path, func(v string) string {
		if v == "PROVISIONING_DIR" {
			return abs
		}
		t.Errorf("dashboards.yml: path uses $%s; only PROVISIONING_DIR is set by run.sh", v)
		return ""
	})
	if wantDir, _ := filepath.Abs(dashboardsDir); filepath.Clean(path) != wantDir {
		t.Errorf("dashboards.yml: path %q is %s, want the dashboards' folder %s", d.Providers[0].Options.Path, path, wantDir)
	}
}

// TestDashboards parses every dashboard and checks each panel, query, variable and
// annotation against the provisioning and against what kwindow exports.
func TestDashboards(t *testing.T) {
	cfg := config.Default()
	fams := exported(t, cfg)
	fams["up"] = &family{labels: map[string]bool{}}
	fams["ALERTS"] = &family{}           // any label: the rules' labels
	fams["ALERTS_FOR_STATE"] = &family{} // same
	for _, r := range recordingRules(t) {
		fams[r] = &family{}
	}
	local, err := query.New(cfg, query.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{cfg: cfg, fams: fams, local: local, ds: datasources(t)}

	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seen[d.UID] = true
		t.Run(d.UID, func(t *testing.T) {
			if want := d.UID + ".json"; filepath.Base(f) != want {
				t.Errorf("file %s, want %s (named by its uid)", filepath.Base(f), want)
			}
			used := c.dashboard(t, &d)
			want, ok := wantDashboards[d.UID]
			if !ok {
				t.Fatalf("unexpected dashboard uid %q", d.UID)
			}
			for _, w := range want {
				if !used[w] {
					t.Errorf("shows no %s", w)
				}
			}
		})
	}
	for uid := range wantDashboards {
		if !seen[uid] {
			t.Errorf("no dashboard %s in %s", uid, dashboardsDir)
		}
	}
}

// recordingRules returns the series the rules in alerts/ record.
func recordingRules(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../alerts/*.rules.yml")
	if len(files) == 0 {
		t.Fatal("no ../alerts/*.rules.yml")
	}
	var out []string
	for _, f := range files {
		var rules struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &rules); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out = append(out, r.Record)
				}
			}
		}
	}
	return out
}

type checker struct {
	cfg   *config.Config
	fams  map[string]*family
	local *query.Local
	ds    map[string]string // provisioned data sources: uid → type
}

// dashboard checks d and returns what it shows: the series its PromQL names and
// "kwindow:<queryType>" (and "kwindow:live") for its kwindow queries.
func (c *checker) dashboard(t *testing.T, d *dashboard) map[string]bool {
	used := map[string]bool{}
	if d.SchemaVersion != 38 {
		t.Errorf("schemaVersion %d, want 38 (Grafana 10.0)", d.SchemaVersion)
	}
	if d.Title == "" {
		t.Error("no title")
	}
	assignments := c.variables(t, d, used)

	ids, titles := map[int]bool{}, map[string]bool{}
	for i, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if !slices.Contains(panelTypes, p.Type) {
			t.Errorf("%s: type %q, want one of %v", where, p.Type, panelTypes)
		}
		// Playwright finds a panel by its title ("data-testid Panel header TITLE").
		if p.Title == "" || titles[p.Title] || ids[p.ID] || p.ID <= 0 {
			t.Errorf("%s: id and title must be set and unique", where)
		}
		ids[p.ID], titles[p.Title] = true, true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24 columns", where, g)
		}
		for _, q := range d.Panels[:i] {
			h := q.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("%s overlaps panel %d %q", where, q.ID, q.Title)
			}
		}
		if p.Datasource == nil {
			t.Errorf("%s: no data source", where)
			continue
		}
		c.datasource(t, where, *p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, raw := range p.Targets {
			var ref struct {
				Datasource *dsRef `json:"datasource"`
				QueryType  string `json:"queryType"`
			}
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			// A table of keys (top k, latest) reduced to one value shows
			// one key's number under the column's name: a bar gauge or stat
			// of one must show every row.
			if r := p.Options.ReduceOptions; r != nil && !r.Values && (ref.QueryType == "topk" || ref.QueryType == "latest") {
				t.Errorf("%s: a %s table in a %s with reduceOptions.values false shows one value, not one per key", where, ref.QueryType, p.Type)
			}
			ds := p.Datasource
			if ref.Datasource != nil {
				ds = ref.Datasource
				if p.Datasource.UID != "-- Mixed --" && *ds != *p.Datasource {
					t.Errorf("%s: a query's data source %v is not the panel's %v (use -- Mixed --)", where, *ds, *p.Datasource)
				}
			}
			if ds.UID == "-- Mixed --" {
				t.Errorf("%s: a query without its own data source in a mixed panel", where)
				continue
			}
			c.datasource(t, where, *ds)
			for _, a := range assignments {
				if a.refersTo(raw) {
					c.target(t, where, ds.Type, raw, a.vars, used)
				}
			}
		}
	}
	for _, a := range d.Annotations.List {
		where := fmt.Sprintf("annotation %q", a.Name)
		c.datasource(t, where, a.Datasource)
		if a.BuiltIn == 0 {
			if len(a.Target) == 0 {
				t.Errorf("%s: no target", where)
				continue
			}
			for _, as := range assignments {
				if as.refersTo(a.Target) {
					c.target(t, where, a.Datasource.Type, a.Target, as.vars, used)
				}
			}
		}
	}
	return used
}

// datasource checks that ref is provisioned (or Grafana's own) with its type.
func (c *checker) datasource(t *testing.T, where string, ref dsRef) {
	t.Helper()
	typ, ok := c.ds[ref.UID]
	if !ok {
		typ, ok = builtinDatasources[ref.UID]
	}
	if !ok {
		t.Errorf("%s: data source uid %q is not provisioned (have %v)", where, ref.UID, c.ds)
	} else if ref.Type != typ {
		t.Errorf("%s: data source %q has type %q, provisioned as %q", where, ref.UID, ref.Type, typ)
	}
}

// assignment gives the dashboard's variables values to check its queries with.
type assignment struct {
	vars    map[string]string
	changed string // the variable this assignment differs in from the first; "" for the first
}

// refersTo says whether a query must be checked with a: it is the first, or the
// query uses the variable a changes.
func (a assignment) refersTo(raw []byte) bool {
	if a.changed == "" {
		return true
	}
	return regexp.MustCompile(`\$\{?` + a.changed + `\b|\[\[` + a.changed + `\b`).Match(raw)
}

// variables checks d's template variables and returns the values to check the
// queries with: a first assignment (custom variables at their current value,
// query variables at their All value), then one per other option of each custom
// variable, so that a query over $aggregation is checked for every aggregation
// the dashboard offers.
func (c *checker) variables(t *testing.T, d *dashboard, used map[string]bool) []assignment {
	base := map[string]string{}
	type option struct{ name, value string }
	var more []option
	for _, v := range d.Templating.List {
		where := fmt.Sprintf("variable %s", v.Name)
		switch v.Type {
		case "custom":
			cur, _ := v.Current.Value.(string)
			if len(v.Options) == 0 || cur == "" {
				t.Errorf("%s: no options or no current value", where)
				continue
			}
			base[v.Name] = cur
			for _, o := range v.Options {
				if o.Value != cur {
					more = append(more, option{v.Name, o.Value})
				}
			}
		case "query":
			if v.Datasource == nil {
				t.Errorf("%s: no data source", where)
				continue
			}
			c.datasource(t, where, *v.Datasource)
			base[v.Name] = "x"
			if v.IncludeAll {
				if v.AllValue == nil || *v.AllValue != ".*" {
					t.Errorf("%s: includeAll needs allValue .* (the queries match with =~)", where)
				} else {
					base[v.Name] = *v.AllValue
				}
			}
			c.variableQuery(t, where, v, used)
		default:
			t.Errorf("%s: type %q, want custom or query", where, v.Type)
		}
	}
	out := []assignment{{vars: base}}
	for _, o := range more {
		vars := maps.Clone(base)
		vars[o.name] = o.value
		out = append(out, assignment{vars: vars, changed: o.name})
	}
	return out
}

var labelValuesRE = regexp.MustCompile(`^label_values\((?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// variableQuery checks a query variable: Prometheus' label_values(selector, label)
// names an exported series and one of its labels; kwindow's names an aggregation
// and one of its dimensions.
func (c *checker) variableQuery(t *testing.T, where string, v variable, used map[string]bool) {
	t.Helper()
	switch v.Datasource.Type {
	case "prometheus":
		var q struct {
			Query string `json:"query"`
			RefID string `json:"refId"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("%s: query %s: %v", where, v.Query, err)
			return
		}
		m := labelValuesRE.FindStringSubmatch(q.Query)
		if m == nil || m[1] == "" {
			t.Errorf("%s: %q, want label_values(SELECTOR, LABEL)", where, q.Query)
			return
		}
		c.promQL(t, where, m[1], used)
		e, err := parser.ParseExpr(m[1])
		if vs, ok := e.(*parser.VectorSelector); err == nil && ok {
			if f, _ := series(c.fams, vs.Name); f != nil && f.labels != nil && !hasLabel(f, m[2]) {
				t.Errorf("%s: %s has no label %s", where, vs.Name, m[2])
			}
		}
	case pluginID:
		var q kwVariableQuery
		if err := decodeJSON(v.Query, &q); err != nil {
			t.Errorf("%s: query %s: %v", where, v.Query, err)
			return
		}
		a := c.aggregation(q.Aggregation)
		if a == nil {
			t.Errorf("%s: unknown aggregation %q", where, q.Aggregation)
		} else if !slices.Contains(a.GroupBy, q.Dimension) {
			t.Errorf("%s: %s has no dimension %q (has %v)", where, a.Name, q.Dimension, a.GroupBy)
		}
	default:
		t.Errorf("%s: data source type %q", where, v.Datasource.Type)
	}
}

func (c *checker) aggregation(name string) *config.Aggregation {
	for i := range c.cfg.Aggregations {
		if c.cfg.Aggregations[i].Name == name {
			return &c.cfg.Aggregations[i]
		}
	}
	return nil
}

func hasLabel(f *family, l string) bool {
	return f.labels == nil || f.labels[l] || l == "job" || l == "instance"
}

// target checks one query with the variables vars.
func (c *checker) target(t *testing.T, where, dsType string, raw json.RawMessage, vars map[string]string, used map[string]bool) {
	t.Helper()
	expand := func(s string) string {
		out, err := expandVars(s, vars)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		return out
	}
	switch dsType {
	case "prometheus":
		var q promTarget
		if err := decodeJSON(raw, &q); err != nil {
			t.Errorf("%s: %v in %s", where, err, raw)
			return
		}
		where += " " + q.RefID
		if q.Expr == "" || q.RefID == "" {
			t.Errorf("%s: no expr or refId", where)
			return
		}
		c.promQL(t, where, expand(q.Expr), used)
	case pluginID:
		var q kwTarget
		if err := decodeJSON(raw, &q); err != nil {
			t.Errorf("%s: %v in %s", where, err, raw)
			return
		}
		where += " " + q.RefID
		c.kwindow(t, where, &q, expand, used)
	default:
		t.Errorf("%s: query for a data source of type %q", where, dsType)
	}
}

var (
	varRE     = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)
	builtins  = map[string]string{"__rate_interval": "1m", "__interval": "1m", "__interval_ms": "60000", "__range": "1h", "__range_s": "3600", "__range_ms": "3600000"}
	digitsRE  = regexp.MustCompile(`^[0-9]+$`)
	opsByName = map[string]query.Op{"=": query.Equal, "!=": query.NotEqual, "=~": query.Regexp, "!~": query.NotRegexp}
)

// expandVars replaces Grafana's variables ($v, ${v}, ${v:format}, [[v]]) and
// built-ins ($__rate_interval, $__interval, $__range) as Grafana would with
// these values. An unknown variable is an error; $1 (a regular expression's
// group) is left alone.
func expandVars(s string, vars map[string]string) (string, error) {
	var err error
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		if v, ok := builtins[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		if digitsRE.MatchString(name) {
			return m
		}
		err = fmt.Errorf("unknown variable %s in %q", m, s)
		return m
	})
	return out, err
}

// promQL parses expr and checks every series it names against what kwindow
// exports (with the series' labels), and that the aggregations' latency
// percentiles read the native histograms.
func (c *checker) promQL(t *testing.T, where, expr string, used map[string]bool) {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q: %v", where, expr, err)
		return
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := n.Name
			if name == "" {
				t.Errorf("%s: %s names no metric", where, n)
				return nil
			}
			used[name] = true
			f, suffix := series(c.fams, name)
			if f == nil {
				t.Errorf("%s: %s is not a series kwindow exports (default configuration), Prometheus makes, or alerts/ records", where, name)
				return nil
			}
			if suffix == "_bucket" && strings.HasSuffix(name, "_"+c.cfg.ValueFamily()+"_bucket") {
				t.Errorf("%s: %s: read the native histogram %s, not its classic buckets", where, name, strings.TrimSuffix(name, "_bucket"))
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !hasLabel(f, m.Name) && !(suffix == "_bucket" && m.Name == "le") {
					t.Errorf("%s: %s has no label %s", where, name, m.Name)
				}
			}
		case *parser.AggregateExpr:
			c.grouping(t, where, n)
		}
		return nil
	})
}

// grouping checks that the labels of sum by (...) exist on the series summed,
// unless label_replace or label_join makes them.
func (c *checker) grouping(t *testing.T, where string, a *parser.AggregateExpr) {
	if a.Without || len(a.Grouping) == 0 {
		return
	}
	var sels []*parser.VectorSelector
	made := false
	parser.Inspect(a.Expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			sels = append(sels, n)
		case *parser.Call:
			made = made || n.Func.Name == "label_replace" || n.Func.Name == "label_join"
		}
		return nil
	})
	if made {
		return
	}
	for _, s := range sels {
		f, suffix := series(c.fams, s.Name)
		if f == nil {
			continue
		}
		for _, l := range a.Grouping {
			if !hasLabel(f, l) && !(suffix == "_bucket" && l == "le") {
				t.Errorf("%s: by (%s): %s has no label %s", where, strings.Join(a.Grouping, ", "), s.Name, l)
			}
		}
	}
}

var legendRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// kwindow checks a kwindow query as the query API would: the aggregation exists,
// the filters compile on its dimensions, it keeps the measures asked for, and
// group-by and legend use its dimensions.
func (c *checker) kwindow(t *testing.T, where string, q *kwTarget, expand func(string) string, used map[string]bool) {
	t.Helper()
	qt := q.QueryType
	if qt == "" {
		qt = "range"
	}
	used["kwindow:"+qt] = true
	if q.Live {
		used["kwindow:live"] = true
		if qt != "range" {
			t.Errorf("%s: live is for range queries, not %s", where, qt)
		}
	}
	if q.ClosedOnly && qt != "range" && qt != "latest" {
		t.Errorf("%s: closedOnly is for range and latest queries, not %s", where, qt)
	}
	if q.RefID == "" {
		t.Errorf("%s: no refId", where)
	}
	aggName := expand(q.Aggr)
	a := c.aggregation(aggName)
	if a == nil {
		t.Errorf("%s: unknown aggregation %q (the default configuration has %v)", where, aggName, c.aggregationNames())
		return
	}
	var ms []query.Measure
	names := q.Measures
	if len(names) == 0 && qt != "anomalies" {
		names = []string{"rate"}
	}
	for _, n := range names {
		m, err := query.ParseMeasure(expand(n))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		ms = append(ms, m)
	}
	if q.Quantile != nil {
		ms = append(ms, query.Measure{Kind: query.Quantile, Q: *q.Quantile})
	}
	var matchers []query.Matcher
	for _, f := range q.Filters {
		op, ok := opsByName[f.Op]
		if !ok {
			t.Errorf("%s: filter %s: unknown op %q", where, f.Dim, f.Op)
			continue
		}
		matchers = append(matchers, query.Matcher{Dim: f.Dim, Op: op, Value: expand(f.Value)})
	}
	if _, err := c.local.Select(aggName, matchers, ms); err != nil {
		t.Errorf("%s: the query API would refuse it: %v", where, err)
	}
	dims := a.GroupBy
	if q.GroupBy != nil {
		for _, d := range *q.GroupBy {
			if !slices.Contains(a.GroupBy, d) {
				t.Errorf("%s: group by %q: %s has dimensions %v", where, d, aggName, a.GroupBy)
			}
		}
		dims = *q.GroupBy
	}
	for _, m := range legendRE.FindAllStringSubmatch(q.LegendFormat, -1) {
		if m[1] != "measure" && !slices.Contains(dims, m[1]) {
			t.Errorf("%s: legend {{%s}}: the series have %v and measure", where, m[1], dims)
		}
	}
	if q.Step != "" {
		if _, err := model.ParseDuration(expand(q.Step)); err != nil {
			t.Errorf("%s: step: %v", where, err)
		}
	}
	switch qt {
	case "range":
	case "latest":
		// /api/v1/latest takes aggregation, match[], measure, since and stale.
		if q.GroupBy != nil || q.Step != "" {
			t.Errorf("%s: latest answers per key: no groupBy or step", where)
		}
	case "topk":
		if q.K == nil || *q.K <= 0 || len(names) != 1 {
			t.Errorf("%s: topk needs k > 0 and one measure", where)
		}
	case "anomalies":
		if q.Threshold == nil || *q.Threshold <= 0 {
			t.Errorf("%s: anomalies need a threshold > 0", where)
		}
	default:
		t.Errorf("%s: unknown queryType %q", where, q.QueryType)
	}
}

func (c *checker) aggregationNames() []string {
	var out []string
	for _, a := range c.cfg.Aggregations {
		out = append(out, a.Name)
	}
	sort.Strings(out)
	return out
}

// TestExpandVars: Grafana's variable syntaxes, built-ins, and $1 left alone.
func TestExpandVars(t *testing.T) {
	vars := map[string]string{"endpoint": ".*", "step": "1h"}
	for _, c := range []struct{ in, want, err string }{
		{`rate(x{e=~"$endpoint"}[$__rate_interval])`, `rate(x{e=~".*"}[1m])`, ""},
		{`${endpoint:regex}|[[endpoint]]|${step}`, `.*|.*|1h`, ""},
		{`label_replace(v, "a", "$1", "b", "(.*)")`, `label_replace(v, "a", "$1", "b", "(.*)")`, ""},
		{`$nope`, `$nope`, "unknown variable $nope"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := expandVars(c.in, vars)
			if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Errorf("expandVars(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
			}
		})
	}
}
