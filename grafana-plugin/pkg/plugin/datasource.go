package plugin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// ID is the plugin's id in plugin.json.
const ID = "kwindow-kwindow-datasource"

// aggregationsTTL is how long a data source trusts its copy of the
// aggregations (window sizes, measures) before asking again.
const aggregationsTTL = 30 * time.Second

// Datasource is one configured kwindow data source. Settings that cannot be
// used do not stop it from being created: every call answers with the
// settings' error instead, so the health check can name the field.
type Datasource struct {
	uid         string
	settings    Settings
	settingsErr error
	pool        *Pool
	log         log.Logger
	now         func() time.Time

	mu      sync.Mutex
	aggs    map[string]client.Aggregation
	aggsAt  time.Time
	closing chan struct{}
	closed  bool
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Factory returns the instance factory datasource.Manage calls for each data
// source, and again when its settings change. version goes into the
// User-Agent of API requests.
func Factory(version string) datasource.InstanceFactoryFunc {
	return func(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
		return New(s, version), nil
	}
}

// New returns the data source of settings s.
func New(s backend.DataSourceInstanceSettings, version string) *Datasource {
	d := &Datasource{uid: s.UID, log: log.DefaultLogger.With("datasource", s.UID), now: time.Now, closing: make(chan struct{})}
	d.settings, d.settingsErr = ParseSettings(s)
	if d.settingsErr == nil {
		d.pool, d.settingsErr = NewPool(d.settings, "kwindow-grafana-datasource/"+version)
	}
	if d.settingsErr != nil {
		d.log.Warn("kwindow data source settings refused", "error", d.settingsErr)
	}
	return d
}

// Dispose is called when the settings change or the data source is deleted:
// live streams of this instance end (Grafana starts them again on the new
// one) and idle connections close.
func (d *Datasource) Dispose() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	close(d.closing)
	if d.pool != nil {
		d.pool.Close()
	}
}

// aggregation returns the description of an aggregation, from a copy of the
// API's list at most aggregationsTTL old (asked again when name is missing).
// An unknown name is a *client.Error with status 404.
func (d *Datasource) aggregation(ctx context.Context, name string) (client.Aggregation, error) {
	d.mu.Lock()
	a, ok := d.aggs[name]
	fresh := d.now().Sub(d.aggsAt) < aggregationsTTL
	d.mu.Unlock()
	if ok && fresh {
		return a, nil
	}
	aggs, err := d.aggregations(ctx)
	if err != nil {
		return client.Aggregation{}, err
	}
	for _, a := range aggs {
		if a.Name == name {
			return a, nil
		}
	}
	names := make([]string, len(aggs))
	for i, a := range aggs {
		names[i] = a.Name
	}
	return client.Aggregation{}, &client.Error{Status: 404, Code: client.CodeNotFound,
		Message: fmt.Sprintf("no aggregation %q; kwindow has %v", name, names)}
}

// aggregations asks the API for every aggregation and keeps the answer.
func (d *Datasource) aggregations(ctx context.Context) ([]client.Aggregation, error) {
	var aggs []client.Aggregation
	_, err := d.pool.Do(ctx, func(ctx context.Context, c *client.Client) (err error) {
		aggs, err = c.Aggregations(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]client.Aggregation, len(aggs))
	for _, a := range aggs {
		m[a.Name] = a
	}
	d.mu.Lock()
	d.aggs, d.aggsAt = m, d.now()
	d.mu.Unlock()
	return aggs, nil
}
