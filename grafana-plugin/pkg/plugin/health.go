package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// CheckHealth asks the first instance that answers for its status and its
// aggregations:
//
//	kwindow 0.1.0 at http://kwindow-0:9897: ready, 3 aggregations (endpoint_1m, status_5m, region_1m), 2 instances
//
// An instance that is not ready (restoring its state, in a rebalance) is an
// error with its reason, as are settings that cannot be used (naming the
// field), a refused token, and no instance answering (naming each URL and its
// error).
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.settingsErr.Error()}, nil
	}
	var st *client.Status
	var aggs []client.Aggregation
	var url string
	failed, err := d.pool.Do(ctx, func(ctx context.Context, c *client.Client) (err error) {
		if st, err = c.Status(ctx); err != nil {
			return err
		}
		aggs, err = c.Aggregations(ctx)
		return err
	})
	if len(failed) < len(d.pool.urls) {
		url = d.pool.urls[len(failed)]
	}
	var ce *client.Error
	switch {
	case errors.As(err, &ce) && ce.Status == 401:
		return healthError("%s refused the token (secureJsonData.token): %v", url, err), nil
	case errors.As(err, &ce):
		return healthError("%s: %v", url, err), nil
	case err != nil:
		return healthError("%v", err), nil
	}
	names := make([]string, len(aggs))
	for i, a := range aggs {
		names[i] = a.Name
	}
	msg := fmt.Sprintf("kwindow %s at %s: ", st.Version, url)
	state := "ready"
	if !st.Ready {
		state = "not ready: " + st.Reason
	}
	msg += fmt.Sprintf("%s, %d aggregations (%s), %d instances", state, len(aggs), strings.Join(names, ", "), len(st.Members))
	if len(failed) > 0 {
		msg += "; failed over from " + (&UnreachableError{Attempts: failed}).attempts()
	}
	if !st.Ready {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg}, nil
}

func healthError(format string, args ...any) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, args...)}
}
