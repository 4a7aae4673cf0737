package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// CallResource serves the query editor's dropdowns and template variables,
// from the API through the same failover as queries, as JSON:
//
//	GET aggregations                                  the API's aggregations ([]client.Aggregation)
//	GET dimensions?aggregation=A                      A's dimensions, its group_by (["endpoint", ...])
//	GET values?aggregation=A&dimension=D&prefix=P&match[]=M   D's values (["/api/a", ...]); header
//	                                                  X-Kwindow-Truncated: true when the API cut the list
//
// Errors are {"error": message} with the API's status (400 for a bad
// parameter, 401, 404 for an unknown aggregation), 502 when no instance
// answers, 504 on a timeout; an unknown path is a 404.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	if req.Method != http.MethodGet && req.Method != "" {
		return sendJSON(sender, http.StatusMethodNotAllowed, nil, errorBody("only GET"))
	}
	if d.settingsErr != nil {
		return sendJSON(sender, http.StatusBadRequest, nil, errorBody(d.settingsErr.Error()))
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, nil, errorBody(err.Error()))
	}
	params := u.Query()
	var body any
	hdr := map[string][]string{}
	switch req.Path {
	case "aggregations":
		body, err = d.aggregations(ctx)
	case "dimensions":
		var a client.Aggregation
		if a, err = d.aggregation(ctx, params.Get("aggregation")); err == nil {
			body = nonNil(a.GroupBy)
		}
	case "values":
		var vr *client.ValuesResult
		vr, err = d.values(ctx, params)
		if err == nil {
			body = nonNil(vr.Values)
			hdr["X-Kwindow-Truncated"] = []string{strconv.FormatBool(vr.Truncated)}
		}
	default:
		return sendJSON(sender, http.StatusNotFound, nil, errorBody(fmt.Sprintf("no resource %q: want aggregations, dimensions or values", req.Path)))
	}
	if err != nil {
		return sendJSON(sender, resourceStatus(err), nil, errorBody(err.Error()))
	}
	return sendJSON(sender, http.StatusOK, hdr, body)
}

// values asks for a dimension's values.
func (d *Datasource) values(ctx context.Context, params url.Values) (*client.ValuesResult, error) {
	req := client.ValuesRequest{Aggregation: params.Get("aggregation"), Dimension: params.Get("dimension"), Prefix: params.Get("prefix")}
	if req.Aggregation == "" || req.Dimension == "" {
		return nil, &QueryError{"aggregation, dimension", "both are required"}
	}
	for _, m := range params["match[]"] {
		ms, err := client.ParseMatchers(m)
		if err != nil {
			return nil, &QueryError{"match[]", err.Error()}
		}
		req.Match = append(req.Match, ms...)
	}
	if l := params.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, &QueryError{"limit", fmt.Sprintf("want a number >= 0, got %q", l)}
		}
		req.Limit = n
	}
	var res *client.ValuesResult
	_, err := d.pool.Do(ctx, func(ctx context.Context, c *client.Client) (err error) {
		res, err = c.Values(ctx, req)
		return err
	})
	return res, err
}

// resourceStatus is the HTTP status of a resource call's error.
func resourceStatus(err error) int {
	var ce *client.Error
	var qe *QueryError
	switch {
	case errors.As(err, &qe):
		return http.StatusBadRequest
	case errors.As(err, &ce) && ce.Status < 500:
		return ce.Status
	case isTimeout(err):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

func sendJSON(sender backend.CallResourceResponseSender, status int, hdr map[string][]string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if hdr == nil {
		hdr = map[string][]string{}
	}
	hdr["Content-Type"] = []string{"application/json"}
	return sender.Send(&backend.CallResourceResponse{Status: status, Headers: hdr, Body: b})
}
