package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
)

type errorInfo = client.ErrorInfo

const (
	codeBadQuery         = client.CodeBadQuery
	codeUnauthorized     = client.CodeUnauthorized
	codeNotFound         = client.CodeNotFound
	codeMethodNotAllowed = client.CodeMethodNotAllowed
	codeLimitExceeded    = client.CodeLimitExceeded
	codeInternal         = client.CodeInternal
	codeUnavailable      = client.CodeUnavailable
	codeTimeout          = client.CodeTimeout
)

// paramError is a bad parameter found by the handlers, before the Backend.
type paramError struct {
	param string // as the API names it: "step", "match[]"
	msg   string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

func badParam(param, format string, args ...any) *paramError {
	return &paramError{param: param, msg: fmt.Sprintf(format, args...)}
}

// ok writes a success envelope.
func ok(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, client.Envelope{Status: "success", Data: data})
}

func writeErr(w http.ResponseWriter, status int, e *errorInfo) {
	writeJSON(w, status, client.Envelope{Status: "error", Error: e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		// The wire types marshal without error (values and times have their
		// own encoders); should one not, the client still gets JSON.
		status = http.StatusInternalServerError
		b = []byte(`{"status":"error","error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// marshal encodes v as JSON and a newline, without escaping <, > and & (the
// answers are not HTML, and "must be > 0" should read so).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// fail answers err as the Backend contract says (see Backend).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		pe *paramError
		qe *query.QueryError
		le *query.LimitError
		ue *UnavailableError
	)
	switch {
	case errors.As(err, &pe):
		writeErr(w, http.StatusBadRequest, &errorInfo{Code: codeBadQuery, Param: pe.param, Message: pe.msg})
	case errors.As(err, &qe):
		param, prefix := httpParam(qe.Param)
		writeErr(w, http.StatusBadRequest, &errorInfo{Code: codeBadQuery, Param: param, Message: prefix + qe.Msg})
	case errors.As(err, &le):
		writeErr(w, http.StatusUnprocessableEntity, &errorInfo{Code: codeLimitExceeded, Limit: le.Limit, Max: le.Max, Need: le.Need,
			Message: strings.TrimPrefix(le.Error(), "query: ")})
	case errors.As(err, &ue):
		secs := retrySeconds(ue.RetryAfter.Seconds())
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeErr(w, http.StatusServiceUnavailable, &errorInfo{Code: codeUnavailable, Partitions: nonNil(ue.Partitions),
			RetryAfterSeconds: secs, Message: ue.Error() + "; retry later, or pass stale=true to read restoring partitions as far as they are restored"})
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, &errorInfo{Code: codeUnavailable, RetryAfterSeconds: 1, Message: err.Error()})
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		writeErr(w, http.StatusGatewayTimeout, &errorInfo{Code: codeTimeout,
			Message: fmt.Sprintf("the query took longer than api.timeout (%v): narrow the time range or the keys", h.o.Timeout)})
	case r.Context().Err() != nil:
		// The client went away: nobody reads an answer.
		h.log.Debug("api: client gone", "path", r.URL.Path, "err", err)
	default:
		h.log.Error("api: query failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		writeErr(w, http.StatusInternalServerError, &errorInfo{Code: codeInternal, Message: "internal error; the server logged it"})
	}
}

// retrySeconds is a Retry-After: whole seconds, at least 1.
func retrySeconds(s float64) int {
	if !(s >= 1) { // NaN too
		return 1
	}
	return int(math.Min(math.Ceil(s), 3600))
}

// httpParam maps a query.QueryError's Param, which names the fields of a
// query, to the HTTP parameter, with a prefix for the message naming which of
// a repeated parameter it is.
func httpParam(p string) (param, prefix string) {
	name, idx, indexed := strings.Cut(p, "[")
	if indexed {
		idx = strings.TrimSuffix(idx, "]")
		if n, err := strconv.Atoi(idx); err == nil {
			prefix = fmt.Sprintf("#%d: ", n+1)
		}
	}
	switch name {
	case "filters":
		return "match[]", "matcher " + prefix
	case "measures":
		return "measure", prefix
	case "group_by":
		return "group_by", prefix
	}
	return name, ""
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
