package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
)

// StreamEvent is one event of a subscription: an update, or the end of a
// subscription the server dropped.
type StreamEvent struct {
	Update *WindowUpdate
	// Dropped, on the last event, is why the server ended the subscription
	// ("slow consumer: 4096 events buffered", "instance shutting down").
	Dropped string
}

// ErrStreamEnded is yielded when the server closes a stream without saying why.
var ErrStreamEnded = errors.New("kwindow: stream ended without a dropped event")

// maxEventSize bounds one server-sent event's data.
const maxEventSize = 4 << 20

// Stream subscribes to the window updates of an aggregation as transactions
// commit them (/api/v1/stream, server-sent events).
//
// Each range over the sequence opens one subscription, which ends with the
// loop: after an event with Dropped set (the server ended it), or after an error
// (an *Error when the server refused it, such as CodeUnavailable when
// api.max_subscribers are connected; the connection's error when it broke;
// ctx's error when ctx ended). It does not reconnect: whether and when to is
// the caller's choice, and the updates committed in between are missed (Latest
// catches up). Breaking out of the loop closes the connection.
func (c *Client) Stream(ctx context.Context, r StreamRequest) iter.Seq2[StreamEvent, error] {
	return func(yield func(StreamEvent, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		resp, err := c.send(ctx, "stream", r.query(), "text/event-stream")
		if err != nil {
			yield(StreamEvent{}, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			yield(StreamEvent{}, responseError(resp, body))
			return
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), maxEventSize)
		var name string
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data.Len() == 0 && name == "" {
					continue
				}
				ev, err := decodeEvent(name, data.String())
				name = ""
				data.Reset()
				if err != nil {
					yield(StreamEvent{}, err)
					return
				}
				if ev == nil { // an event type this client does not know
					continue
				}
				if !yield(*ev, nil) || ev.Dropped != "" {
					return
				}
			case strings.HasPrefix(line, ":"): // a comment: the heartbeat
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "event":
					name = value
				case "data":
					if data.Len() > 0 {
						data.WriteByte('\n')
					}
					data.WriteString(value)
				}
			}
		}
		err = sc.Err()
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case err == nil:
			err = ErrStreamEnded
		default:
			err = fmt.Errorf("kwindow: stream: %w", err)
		}
		yield(StreamEvent{}, err)
	}
}

func decodeEvent(name, data string) (*StreamEvent, error) {
	switch name {
	case "update":
		var u WindowUpdate
		if err := json.Unmarshal([]byte(data), &u); err != nil {
			return nil, fmt.Errorf("kwindow: stream: decoding an update: %w", err)
		}
		return &StreamEvent{Update: &u}, nil
	case "dropped":
		var d Dropped
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, fmt.Errorf("kwindow: stream: decoding a dropped event: %w", err)
		}
		if d.Reason == "" {
			d.Reason = "dropped"
		}
		return &StreamEvent{Dropped: d.Reason}, nil
	}
	return nil, nil
}
