package cluster

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/query"
)

// The instances of a group talk over the API's internal routes, in gob: answers
// carry aggregates with their sketches (sketch.Sketch is a
// encoding.BinaryMarshaler), so the instance that merges them does so exactly.
// Both ends run the same kwindow; gob tolerates fields added by a newer one.
const (
	peerQueryPath  = "/api/v1/internal/query"
	peerStreamPath = "/api/v1/internal/stream"
	gobContentType = "application/x-gob"
)

// peerRequest asks another instance for its answer over some partitions. One of
// the queries is set.
type peerRequest struct {
	Range      *query.RangeQuery
	Latest     *query.LatestQuery
	TopK       *query.TopKQuery
	Values     *query.ValuesQuery
	Partitions []int32
	Stale      bool
}

// peerResponse is its answer: over the partitions asked for except Missing.
type peerResponse struct {
	Range   *query.RangeResult
	Latest  *query.LatestResult
	TopK    *query.TopKResult
	Values  *query.ValuesResult
	Stale   []api.StalePartition
	Missing []int32
	Reason  string
	Err     *peerError
}

// peerError carries the errors the asking instance answers as its own.
type peerError struct {
	Kind    string // "query", "limit" or "other"
	Param   string
	Msg     string
	Limit   string
	Max     int
	Need    int
	Message string
}

func toPeerError(err error) *peerError {
	var qe *query.QueryError
	var le *query.LimitError
	switch {
	case errors.As(err, &qe):
		return &peerError{Kind: "query", Param: qe.Param, Msg: qe.Msg}
	case errors.As(err, &le):
		return &peerError{Kind: "limit", Limit: le.Limit, Max: le.Max, Need: le.Need}
	}
	return &peerError{Kind: "other", Message: err.Error()}
}

func (e *peerError) err() error {
	switch e.Kind {
	case "query":
		return &query.QueryError{Param: e.Param, Msg: e.Msg}
	case "limit":
		return &query.LimitError{Limit: e.Limit, Max: e.Max, Need: e.Need}
	}
	return errors.New(e.Message)
}

// ask sends req to the instance at url.
func (n *Node) ask(ctx context.Context, url string, req *peerRequest) (*peerResponse, error) {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(req); err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url+peerQueryPath, &body)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", gobContentType)
	n.authorize(hr)
	resp, err := n.cl.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var out peerResponse
	if err := gob.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	if out.Err != nil {
		return nil, out.Err.err()
	}
	return &out, nil
}

// PeerHandler serves the internal routes the other instances call: mount it at
// /api/v1/internal/ behind the API's authentication (api.Options.Internal).
func (n *Node) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+peerQueryPath, n.serveQuery)
	mux.HandleFunc("POST "+peerStreamPath, n.serveStream)
	return mux
}

// serveQuery answers a peerRequest from the local stores only.
func (n *Node) serveQuery(w http.ResponseWriter, r *http.Request) {
	var req peerRequest
	if err := gob.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	srcs, stale, restoring, absent := n.sources(req.Partitions, req.Stale)
	resp := peerResponse{Stale: stale, Missing: append(restoring, absent...)}
	if len(restoring) > 0 {
		resp.Reason = "restoring on " + n.o.URL
	} else if len(absent) > 0 {
		resp.Reason = "not owned by " + n.o.URL + " (moved in a rebalance)"
	}
	var err error
	ctx := r.Context()
	switch {
	case req.Range != nil:
		resp.Range, err = n.local.Range(ctx, srcs, *req.Range)
	case req.Latest != nil:
		resp.Latest, err = n.local.Latest(ctx, srcs, *req.Latest)
	case req.TopK != nil:
		resp.TopK, err = n.local.TopK(ctx, srcs, *req.TopK)
	case req.Values != nil:
		resp.Values, err = n.local.Values(ctx, srcs, *req.Values)
	default:
		http.Error(w, "bad request: no query", http.StatusBadRequest)
		return
	}
	if err != nil {
		var ue *api.UnavailableError
		if errors.As(mapStoreErr(err), &ue) {
			// A store closed mid-read: its partition left; say all are missing.
			resp = peerResponse{Missing: req.Partitions, Reason: ue.Reason}
		} else {
			resp = peerResponse{Err: toPeerError(err)}
		}
	}
	w.Header().Set("Content-Type", gobContentType)
	if err := gob.NewEncoder(w).Encode(&resp); err != nil {
		n.log.Debug("answering a peer", "err", err)
	}
}

// peerEvent is one message of an internal stream.
type peerEvent struct {
	Updates []api.WindowUpdate
	Dropped string
}

// serveStream streams the local stores' window updates to another instance,
// which merges them into its subscriber's stream.
func (n *Node) serveStream(w http.ResponseWriter, r *http.Request) {
	var q api.StreamQuery
	if err := gob.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&q); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ch, err := n.hub.subscribe(r.Context(), q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", gobContentType)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := gob.NewEncoder(w)
	if err := enc.Encode(&peerEvent{}); err != nil { // the stream is open
		return
	}
	rc.Flush()
	heartbeat := time.NewTicker(10 * time.Second)
	defer heartbeat.Stop()
	for {
		var ev peerEvent
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Update != nil {
				ev.Updates = append(ev.Updates, *e.Update)
			}
			ev.Dropped = e.Dropped
			// Batch what is already waiting.
			for len(ev.Updates) < 256 && ev.Dropped == "" {
				select {
				case e, ok := <-ch:
					if !ok {
						goto send
					}
					if e.Update != nil {
						ev.Updates = append(ev.Updates, *e.Update)
					}
					ev.Dropped = e.Dropped
					continue
				default:
				}
				break
			}
		case <-heartbeat.C:
		}
	send:
		if err := enc.Encode(&ev); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if ev.Dropped != "" {
			return
		}
	}
}

// authorize adds the peer token to a request to another instance.
func (n *Node) authorize(r *http.Request) {
	if n.o.PeerToken == nil {
		return
	}
	if tok := n.o.PeerToken(); tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
}
