package plugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

type resourceRecorder struct{ resp *backend.CallResourceResponse }

func (r *resourceRecorder) Send(resp *backend.CallResourceResponse) error {
	r.resp = resp
	return nil
}

func TestResources(t *testing.T) {
	k := newKwindow(t, closedAll, "secret")
	d := newDS(t, "secret", k.URL)
	f := func(path, rawURL string, wantStatus int, want string) {
		t.Helper()
		var rec resourceRecorder
		err := d.CallResource(context.Background(), &backend.CallResourceRequest{Method: "GET", Path: path, URL: rawURL}, &rec)
		if err != nil {
			t.Fatal(err)
		}
		if rec.resp.Status != wantStatus {
			t.Errorf("%s: status %d, want %d: %s", rawURL, rec.resp.Status, wantStatus, rec.resp.Body)
		}
		if want != "" && string(rec.resp.Body) != want {
			t.Errorf("%s:\n got %s\nwant %s", rawURL, rec.resp.Body, want)
		}
	}
	f("dimensions", "dimensions?aggregation=endpoint_1m", 200, `["endpoint","region"]`)
	f("values", "values?aggregation=endpoint_1m&dimension=endpoint", 200, `["/a","/b"]`)
	f("values", "values?aggregation=endpoint_1m&dimension=endpoint&prefix=%2Fb", 200, `["/b"]`)
	f("values", "values?aggregation=endpoint_1m&dimension=region&match%5B%5D=endpoint%3D%22%2Fa%22", 200, `["eu","us"]`)
	f("values", "values?aggregation=endpoint_1m&dimension=endpoint&prefix=%2Fz", 200, `[]`)
	f("values", "values?aggregation=endpoint_1m", 400, "")
	f("values", "values?aggregation=endpoint_1m&dimension=endpoint&match%5B%5D=endpoint", 400, "")
	f("values", "values?aggregation=endpoint_1m&dimension=nope", 400, "")
	f("dimensions", "dimensions?aggregation=nope", 404, "")
	f("nope", "nope", 404, "")

	var rec resourceRecorder
	if err := d.CallResource(context.Background(), &backend.CallResourceRequest{Method: "GET", Path: "aggregations", URL: "aggregations"}, &rec); err != nil {
		t.Fatal(err)
	}
	var aggs []struct {
		Name     string   `json:"name"`
		GroupBy  []string `json:"group_by"`
		Measures []string `json:"measures"`
	}
	if err := json.Unmarshal(rec.resp.Body, &aggs); err != nil || rec.resp.Status != 200 {
		t.Fatalf("aggregations: %d %s (%v)", rec.resp.Status, rec.resp.Body, err)
	}
	if len(aggs) != 2 || aggs[0].Name != "endpoint_1m" || aggs[1].Name != "region_5m" || len(aggs[0].Measures) == 0 {
		t.Errorf("aggregations %+v", aggs)
	}

	var denied resourceRecorder
	if err := newDS(t, "wrong", k.URL).CallResource(context.Background(), &backend.CallResourceRequest{Path: "aggregations", URL: "aggregations"}, &denied); err != nil {
		t.Fatal(err)
	}
	if denied.resp.Status != 401 {
		t.Errorf("wrong token: %d %s", denied.resp.Status, denied.resp.Body)
	}
	var gw resourceRecorder
	if err := newDS(t, "", deadURL(t)).CallResource(context.Background(), &backend.CallResourceRequest{Path: "aggregations", URL: "aggregations"}, &gw); err != nil {
		t.Fatal(err)
	}
	if gw.resp.Status != 502 {
		t.Errorf("unreachable: %d %s", gw.resp.Status, gw.resp.Body)
	}
}
