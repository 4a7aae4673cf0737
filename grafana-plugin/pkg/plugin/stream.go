package plugin

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// Live panels.
//
// A live range query's frame carries the channel ds/<uid>/stream/<spec>, where
// spec is the base64url of the JSON of what the stream selects (aggregation,
// filters sorted, measures, a group-by that merges keys, closed windows
// only): identical queries on any number of panels give the same channel, and
// Grafana runs one RunStream per channel, so they share one connection to
// kwindow's /api/v1/stream. The path holds the whole query, so no state is needed to run
// a channel that this process never saw a query for (a restarted plugin,
// another Grafana replica).
//
// Each update is one window of one key. A query with one series per key
// relays the updates as rows. A query whose group-by merges keys cannot add
// up updates (a P99 of merged keys is no function of theirs), so each batch
// of updates is only a trigger: RunStream asks the API for the windows they
// touched, merged as the query merges them (sketches bucket by bucket), and
// sends those points. A closed-only query (Query.ClosedOnly) relays a key's
// window once it closes and, merged, a point once none of its windows is
// open: updates of open windows are dropped, and trigger nothing.
//
// The frames use the layout Grafana's streaming frames group by labels: a
// string field "labels" ({endpoint="/a"}), then "time" (the window's start),
// then one field per measure. Grafana appends each packet's rows to the
// series of its labels, so the live query's first frame (liveFrame) has the
// same layout and RunStream sends rows only (data.IncludeDataOnly): a packet
// with a schema would replace the fields' labels.

// streamPrefix starts every stream path.
const streamPrefix = "stream/"

// streamSpec is what a live channel streams.
type streamSpec struct {
	Aggregation string   `json:"a"`
	Filters     []Filter `json:"f,omitempty"`
	Measures    []string `json:"m"`
	// GroupBy, when set, merges keys: the points are asked again, with Step.
	GroupBy *[]string       `json:"g,omitempty"`
	Step    client.Duration `json:"s,omitempty"`
	// Closed streams closed windows only: a key's window once it closes, a
	// merged point once none of its windows is open.
	Closed bool `json:"c,omitempty"`
}

// streamPath returns the channel path of a live query: the same for queries
// that select the same updates. regroup says that the query's group-by merges
// keys, and step is its points' width.
func streamPath(q *Query, regroup bool, step time.Duration) string {
	s := streamSpec{Aggregation: q.Aggregation, Filters: slices.Clone(q.Filters), Measures: q.Measures, Closed: q.ClosedOnly}
	if regroup {
		g := slices.Clone(q.GroupBy)
		slices.Sort(g)
		s.GroupBy, s.Step = &g, client.Duration(step)
	}
	slices.SortFunc(s.Filters, func(a, b Filter) int {
		return cmp.Or(cmp.Compare(a.Dim, b.Dim), cmp.Compare(a.Op, b.Op), cmp.Compare(a.Value, b.Value))
	})
	b, _ := json.Marshal(s) // strings and slices of them: cannot fail
	return streamPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// parseStreamPath reads a channel path streamPath wrote.
func parseStreamPath(path string) (streamSpec, error) {
	var s streamSpec
	enc, ok := strings.CutPrefix(path, streamPrefix)
	if !ok {
		return s, fmt.Errorf("stream path %q: want %s<spec>", path, streamPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return s, fmt.Errorf("stream path %q: %w", path, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("stream path %q: %w", path, err)
	}
	if s.Aggregation == "" || len(s.Measures) == 0 || s.GroupBy != nil && s.Step <= 0 {
		return s, fmt.Errorf("stream path %q: no aggregation, measures or step", path)
	}
	return s, nil
}

// liveRefusal says why a range query cannot be live, "" when it can: each of
// its points must hold one window per key, as each update is one window.
func liveRefusal(agg client.Aggregation, step time.Duration) string {
	if agg.Window.Type != "tumbling" && agg.Window.Type != "hopping" {
		return fmt.Sprintf("live updates of %s windows do not map onto points", agg.Window.Type)
	}
	if w := windowStep(agg.Window); step != w {
		return fmt.Sprintf("the step %s is longer than the window's %s (narrow the time range)", client.Duration(step), client.Duration(w))
	}
	return ""
}

// regroups reports whether a query's group-by merges keys of agg.
func regroups(agg client.Aggregation, q *Query) bool {
	return q.GroupBy != nil && !sameSet(q.GroupBy, agg.GroupBy)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// liveFields returns the empty fields of the live layout for measures.
func liveFields(measures []string) data.Fields {
	fs := data.Fields{data.NewField("labels", nil, []string{}), data.NewField("time", nil, []time.Time{})}
	for _, m := range measures {
		f := data.NewField(m, nil, []*float64{})
		f.Config = &data.FieldConfig{Unit: unitOf(m)}
		fs = append(fs, f)
	}
	return fs
}

// liveFrame lays a range answer out for a live panel: a row per point.
func liveFrame(res *client.RangeResult, q *Query) *data.Frame {
	frame := data.NewFrame("", liveFields(res.Measures)...)
	for _, s := range res.Series {
		ls := labelString(s.Labels)
		for _, p := range s.Points {
			row := []any{ls, p.Start.Time()}
			for _, m := range res.Measures {
				row = append(row, valuePtr(p.Values[m]))
			}
			frame.AppendRow(row...)
		}
	}
	frame.SetMeta(&data.FrameMeta{})
	return frame
}

// SubscribeStream allows a subscription to any path streamPath writes.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if _, err := parseStreamPath(req.Path); err != nil || d.settingsErr != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses: the channels are kwindow's, read-only.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// Reconnection delays of a live stream whose connection ended.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// maxRows bounds the rows of one packet.
const maxRows = 1000

// errDisposed ends the streams of a data source whose settings changed:
// Grafana runs them again on the new instance.
var errDisposed = errors.New("kwindow data source settings changed")

// RunStream relays the updates of a channel's stream until ctx ends (Grafana
// cancels it when the channel's last subscriber leaves) or the data source is
// disposed. Updates that arrive together go out as one packet. When the
// connection ends (the server dropped it, an instance stopped), it connects
// again, to the URLs in order, after a growing delay; updates committed in
// between are not replayed.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	if d.settingsErr != nil {
		return d.settingsErr
	}
	spec, err := parseStreamPath(req.Path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	updates := make(chan *client.WindowUpdate, maxRows)
	go d.follow(ctx, spec, updates)
	for {
		var batch []*client.WindowUpdate
		select {
		case <-ctx.Done():
			return d.streamEnd(ctx)
		case u := <-updates:
			batch = append(batch, u)
		}
	drain:
		for len(batch) < maxRows {
			select {
			case u := <-updates:
				batch = append(batch, u)
			default:
				break drain
			}
		}
		if spec.Closed {
			// Updates of open windows are neither sent nor, for merged
			// points, a trigger: only a window's closing is.
			if batch = slices.DeleteFunc(batch, func(u *client.WindowUpdate) bool { return u.Partial }); len(batch) == 0 {
				continue
			}
		}
		frame := data.NewFrame("", liveFields(spec.Measures)...)
		if spec.GroupBy == nil {
			for _, u := range batch {
				appendUpdate(frame, u, spec.Measures)
			}
		} else if err := d.regroup(ctx, spec, batch, frame); err != nil {
			if ctx.Err() != nil {
				return d.streamEnd(ctx)
			}
			d.log.Warn("kwindow live stream: asking for the merged points", "aggregation", spec.Aggregation, "error", err)
			continue
		}
		if frame.Rows() == 0 {
			continue
		}
		if err := sender.SendFrame(frame, data.IncludeDataOnly); err != nil {
			return fmt.Errorf("sending a live frame: %w", err)
		}
	}
}

// regroup appends to frame the points of a merging query over the steps the
// updates of batch fall in.
func (d *Datasource) regroup(ctx context.Context, spec streamSpec, batch []*client.WindowUpdate, frame *data.Frame) error {
	step := time.Duration(spec.Step)
	from, to := batch[0].Start.Time(), batch[0].Start.Time()
	for _, u := range batch[1:] {
		t := u.Start.Time()
		from, to = minTime(from, t), maxTime(to, t)
	}
	sp := align(from, to.Add(1), step)
	q := Query{Filters: spec.Filters}
	req := client.RangeRequest{Aggregation: spec.Aggregation, Match: q.matchers(), GroupBy: *spec.GroupBy,
		Measures: spec.Measures, From: sp.From, To: sp.To, Step: step}
	var res *client.RangeResult
	if _, err := d.pool.Do(ctx, func(ctx context.Context, c *client.Client) (err error) {
		res, err = c.QueryRange(ctx, req)
		return err
	}); err != nil {
		return err
	}
	if spec.Closed {
		dropOpen(res)
	}
	for _, s := range res.Series {
		ls := labelString(s.Labels)
		for _, p := range s.Points {
			row := []any{ls, p.Start.Time()}
			for _, m := range res.Measures {
				row = append(row, valuePtr(p.Values[m]))
			}
			frame.AppendRow(row...)
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// streamEnd is RunStream's result once its context ended.
func (d *Datasource) streamEnd(ctx context.Context) error {
	select {
	case <-d.closing:
		return errDisposed
	default:
		return nil
	}
}

func appendUpdate(frame *data.Frame, u *client.WindowUpdate, measures []string) {
	row := []any{labelString(u.Labels), u.Start.Time()}
	for _, m := range measures {
		row = append(row, valuePtr(u.Values[m]))
	}
	frame.AppendRow(row...)
}

// follow subscribes to the stream at each URL in order, sending its updates
// to out, until ctx ends.
func (d *Datasource) follow(ctx context.Context, spec streamSpec, out chan<- *client.WindowUpdate) {
	req := client.StreamRequest{Aggregation: spec.Aggregation, Measures: spec.Measures}
	q := Query{Filters: spec.Filters}
	req.Match = q.matchers()
	backoff := minBackoff
	for ctx.Err() == nil {
		for i, c := range d.pool.clients {
			received := false
			var last error
			for ev, err := range c.Stream(ctx, req) {
				if err != nil {
					last = err
					break
				}
				if ev.Dropped != "" {
					last = fmt.Errorf("dropped by the server: %s", ev.Dropped)
					break
				}
				received = true
				select {
				case out <- ev.Update:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			if received {
				backoff = minBackoff // it worked for a while: start over quickly
			}
			d.log.Warn("kwindow live stream ended", "url", d.pool.urls[i], "path", spec.Aggregation, "error", last)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
