package plugin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func checkHealth(t *testing.T, d *Datasource) *backend.CheckHealthResult {
	t.Helper()
	r, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheckHealth(t *testing.T) {
	k := newKwindow(t, closedAll, "secret")
	f := func(name string, d *Datasource, status backend.HealthStatus, msg string) {
		t.Helper()
		r := checkHealth(t, d)
		if r.Status != status || r.Message != msg {
			t.Errorf("%s:\n got %v %q\nwant %v %q", name, r.Status, r.Message, status, msg)
		}
	}
	ok := fmt.Sprintf("kwindow 0.1.0 at %s: ready, 2 aggregations (endpoint_1m, region_5m), 2 instances", k.URL)
	f("ok", newDS(t, "secret", k.URL), backend.HealthStatusOk, ok)

	dead := deadURL(t)
	r := checkHealth(t, newDS(t, "secret", dead, k.URL))
	if r.Status != backend.HealthStatusOk || !strings.HasPrefix(r.Message, ok+"; failed over from "+dead+": ") {
		t.Errorf("failover: %v %q", r.Status, r.Message)
	}

	k.b.set(func() { k.b.ready, k.b.reason = false, "restoring partitions [1]" })
	f("unready", newDS(t, "secret", k.URL), backend.HealthStatusError,
		fmt.Sprintf("kwindow 0.1.0 at %s: not ready: restoring partitions [1], 2 aggregations (endpoint_1m, region_5m), 2 instances", k.URL))

	r = checkHealth(t, newDS(t, "wrong", k.URL))
	if r.Status != backend.HealthStatusError || !strings.HasPrefix(r.Message, k.URL+" refused the token (secureJsonData.token)") {
		t.Errorf("wrong token: %v %q", r.Status, r.Message)
	}

	a, b := deadURL(t), deadURL(t)
	r = checkHealth(t, newDS(t, "", a, b))
	if r.Status != backend.HealthStatusError || !strings.HasPrefix(r.Message, "no kwindow instance answered: "+a+": ") ||
		!strings.Contains(r.Message, "; "+b+": ") || !strings.Contains(r.Message, "connection refused") {
		t.Errorf("unreachable: %v %q", r.Status, r.Message)
	}

	bad := New(backend.DataSourceInstanceSettings{JSONData: []byte(`{"urls": ["http://a:9897", "kwindow-1:9897"]}`)}, "test")
	f("bad URL", bad, backend.HealthStatusError, `settings: jsonData.urls[1]: "kwindow-1:9897": want http://host:port or https://host:port`)
}

func TestParseSettings(t *testing.T) {
	f := func(jsonData, url, wantErr string, wantURLs ...string) {
		t.Helper()
		s, err := ParseSettings(backend.DataSourceInstanceSettings{JSONData: []byte(jsonData), URL: url,
			DecryptedSecureJSONData: map[string]string{"token": "t"}})
		switch {
		case wantErr != "":
			if err == nil || err.Error() != wantErr {
				t.Errorf("%s: error %v, want %q", jsonData, err, wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", jsonData, err)
		case fmt.Sprint(s.URLs) != fmt.Sprint(wantURLs) || s.Token != "t":
			t.Errorf("%s: urls %v token %q, want %v", jsonData, s.URLs, s.Token, wantURLs)
		}
	}
	f(`{"urls": ["http://a:9897/", " http://b:9897"]}`, "", "", "http://a:9897", "http://b:9897")
	f(`{}`, "http://c:9897", "", "http://c:9897")
	f(``, "", "settings: jsonData.urls: no URL: want at least one kwindow instance, such as \"http://kwindow-0:9897\"")
	f(`{"urls": []}`, "", "settings: jsonData.urls: no URL: want at least one kwindow instance, such as \"http://kwindow-0:9897\"")
	f(`{"urls": ["http://a:9897", "http://a:9897"]}`, "", `settings: jsonData.urls[1]: "http://a:9897" is listed twice`)
	f(`{"urls": ["ftp://a"]}`, "", `settings: jsonData.urls[0]: "ftp://a": want http://host:port or https://host:port`)
	f(`{"urls": ["http://a:9897?x=1"]}`, "", `settings: jsonData.urls[0]: "http://a:9897?x=1": want no query or fragment`)
	f(`{}`, "a:9897", `settings: url: "a:9897": want http://host:port or https://host:port`)
	f(`{"urls": "http://a"}`, "", "settings: jsonData: not a JSON object of urls and timeoutSeconds: json: cannot unmarshal string into Go struct field jsonData.urls of type []string")
	for _, to := range []string{"0", "-1", "3601"} {
		f(`{"urls": ["http://a"], "timeoutSeconds": `+to+`}`, "", "settings: jsonData.timeoutSeconds: must be > 0 and <= 3600, got "+to)
	}
	s, _ := ParseSettings(backend.DataSourceInstanceSettings{JSONData: []byte(`{"urls": ["http://a"]}`)})
	if s.Timeout != DefaultTimeout {
		t.Errorf("default timeout %v", s.Timeout)
	}
	s, _ = ParseSettings(backend.DataSourceInstanceSettings{JSONData: []byte(`{"urls": ["http://a"], "timeoutSeconds": 3600}`)})
	if s.Timeout.Seconds() != 3600 {
		t.Errorf("timeout %v, want 1h", s.Timeout)
	}
}
