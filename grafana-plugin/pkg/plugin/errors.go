package plugin

import (
	"context"
	"errors"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// errorResponse is a query's error answer, with the status Grafana shows and
// alerting records:
//
//   - the settings, the query model or the API refusing the query (400, 404,
//     422: an unknown aggregation or measure, a bad filter, a limit) are a bad
//     request; 401 and 403 keep their statuses (the token);
//   - a timeout (the request's, the query's or the API's own 504) is a timeout;
//   - an instance that does not answer, or answers 5xx, is a bad gateway.
//
// Every one is the downstream's doing (the configuration, the query, kwindow),
// none a fault of the plugin.
func errorResponse(err error) backend.DataResponse {
	return backend.ErrDataResponseWithSource(errorStatus(err), backend.ErrorSourceDownstream, err.Error())
}

func errorStatus(err error) backend.Status {
	var se *SettingsError
	var qe *QueryError
	var ce *client.Error
	switch {
	case errors.As(err, &se), errors.As(err, &qe):
		return backend.StatusBadRequest
	case isTimeout(err):
		return backend.StatusTimeout
	case errors.Is(err, context.Canceled):
		return backend.StatusUnknown
	case errors.As(err, &ce):
		switch {
		case ce.Status == http.StatusUnauthorized:
			return backend.StatusUnauthorized
		case ce.Status == http.StatusForbidden:
			return backend.StatusForbidden
		case ce.Status == http.StatusTooManyRequests:
			return backend.StatusTooManyRequests
		case ce.Status >= 400 && ce.Status < 500:
			return backend.StatusBadRequest
		}
	}
	return backend.StatusBadGateway
}
