package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
)

var streamParams = []param{pAggregation, pMatch, pMeasures}

// writeStall bounds one write to a stream's client: a client that reads
// nothing for this long loses its stream, and its subscriber slot.
const writeStall = 30 * time.Second

// serveStream relays a Backend subscription as server-sent events:
//
//	event: update     data: a client.WindowUpdate
//	event: dropped    data: {"reason": ...}, the last event of a stream the server ended
//	: heartbeat       a comment every Options.Heartbeat
//
// The Backend delivers on a channel and never waits for this handler; this
// handler waits only for its own client, flushing after each event, so a slow
// client delays nobody else (the Backend drops its subscription when it falls
// too far behind).
func serveStream(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	a := h.aggregation(p)
	q := StreamQuery{Filters: h.matchers(p)}
	ms := h.measures(p)
	if p.err != nil {
		h.fail(w, r, p.err)
		return
	}
	q.Aggregation, q.Measures = a.Name, ms.ms
	if n := h.subscribers.Add(1); n > int64(h.o.MaxSubscribers) {
		h.subscribers.Add(-1)
		w.Header().Set("Retry-After", "5")
		writeErr(w, http.StatusServiceUnavailable, &errorInfo{Code: codeUnavailable, Limit: "max_subscribers", Max: h.o.MaxSubscribers,
			RetryAfterSeconds: 5, Message: fmt.Sprintf("this instance holds api.max_subscribers (%d) streams; retry later or at another instance", h.o.MaxSubscribers)})
		return
	}
	defer h.subscribers.Add(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events, err := h.b.Subscribe(ctx, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) // a kept-alive connection's next response has none
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(writeStall)) // not every writer has one
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write([]byte(": subscribed\n\n")) != nil {
		return
	}
	tick := time.NewTicker(h.o.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// The client went away (and reads nothing), or the server is
			// shutting down: tell a client that is still there.
			write(sseEvent("dropped", client.Dropped{Reason: "server shutting down"}))
			return
		case <-tick.C:
			if write([]byte(": heartbeat\n\n")) != nil {
				return
			}
		case ev, open := <-events:
			switch {
			case !open:
				write(sseEvent("dropped", client.Dropped{Reason: "subscription ended"}))
				return
			case ev.Dropped != "":
				write(sseEvent("dropped", client.Dropped{Reason: ev.Dropped}))
				return
			case ev.Update != nil:
				if write(sseEvent("update", windowUpdate(a, ev.Update, ms))) != nil {
					return
				}
			}
		}
	}
}

// sseEvent encodes one event; JSON has no raw newlines, so data is one line.
func sseEvent(name string, data any) []byte {
	b, err := marshal(data)
	if err != nil {
		b = []byte("{}\n")
	}
	b = b[:len(b)-1] // the newline
	out := make([]byte, 0, len(b)+len(name)+16)
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}

func windowUpdate(a *config.Aggregation, u *WindowUpdate, ms measures) *client.WindowUpdate {
	span := u.End - u.Start
	return &client.WindowUpdate{
		Aggregation: u.Aggregation, Labels: labels(a.GroupBy, u.Key), Partition: u.Partition,
		Start: client.Timestamp(u.Start), End: client.Timestamp(u.End), Last: client.Timestamp(u.Last),
		Partial: u.Partial, CommittedAt: client.Timestamp(u.CommittedAt),
		Values: ms.values(func(m query.Measure) float64 { return m.Eval(u.Agg, span) }),
	}
}
