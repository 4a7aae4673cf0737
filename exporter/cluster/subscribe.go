package cluster

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"net/http"
	"time"

	"github.com/kwindow/kwindow/exporter/api"
)

// Subscribe streams the committed window updates that q selects from every
// instance: this one's hub, and an internal stream from each other member,
// opened as members appear. Updates of all of them go through one buffer; a
// subscriber that lets it fill is dropped, with a last event saying so.
func (n *Node) Subscribe(ctx context.Context, q api.StreamQuery) (<-chan api.StreamEvent, error) {
	if _, err := n.local.Select(q.Aggregation, q.Filters, q.Measures); err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	local, err := n.hub.subscribe(ctx, q)
	if err != nil {
		cancel()
		return nil, err
	}
	merged := make(chan api.StreamEvent, subscriberBuffer)
	out := make(chan api.StreamEvent)
	dropped := make(chan string, 1)
	drop := func(reason string) {
		select {
		case dropped <- reason:
		default:
		}
		cancel()
	}
	forward := func(ev api.StreamEvent) {
		if ev.Dropped != "" {
			drop(ev.Dropped)
			return
		}
		select {
		case merged <- ev:
		default:
			drop(fmt.Sprintf("slow consumer: %d updates were waiting", subscriberBuffer))
		}
	}
	go func() {
		for ev := range local {
			forward(ev)
		}
	}()
	if n.o.Members != nil {
		go n.followPeers(ctx, q, forward)
	}
	go func() {
		defer close(out)
		for {
			select {
			case ev := <-merged:
				select {
				case out <- ev:
				case <-ctx.Done():
				}
			case <-ctx.Done():
				select {
				case r := <-dropped:
					// What was still buffered is skipped: the reader is behind
					// anyway, and the reason matters more.
					select {
					case out <- api.StreamEvent{Dropped: r}:
					case <-parent.Done():
					}
				default:
				}
				return
			}
		}
	}()
	return out, nil
}

// followPeers keeps an internal stream open to every other member until ctx
// ends, checking the membership every few seconds.
func (n *Node) followPeers(ctx context.Context, q api.StreamQuery, forward func(api.StreamEvent)) {
	following := map[string]context.CancelFunc{}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		ms, err := n.o.Members.Members(ctx, false)
		if err == nil {
			seen := map[string]bool{}
			for _, m := range ms {
				if m.URL == "" || m.URL == n.o.URL {
					continue
				}
				seen[m.URL] = true
				if following[m.URL] == nil {
					pctx, stop := context.WithCancel(ctx)
					following[m.URL] = stop
					go n.followPeer(pctx, m.URL, q, forward)
				}
			}
			for u, stop := range following {
				if !seen[u] {
					stop()
					delete(following, u)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// followPeer relays one member's updates, reconnecting after a failure until
// ctx ends (the member left, or the subscriber).
func (n *Node) followPeer(ctx context.Context, url string, q api.StreamQuery, forward func(api.StreamEvent)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := n.peerStream(ctx, url, q, forward); err != nil && ctx.Err() == nil {
			n.log.Debug("live stream from a peer", "peer", url, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (n *Node) peerStream(ctx context.Context, url string, q api.StreamQuery, forward func(api.StreamEvent)) error {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(&q); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+peerStreamPath, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", gobContentType)
	n.authorize(req)
	resp, err := n.cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	dec := gob.NewDecoder(resp.Body)
	for {
		var ev peerEvent
		if err := dec.Decode(&ev); err != nil {
			return err
		}
		for i := range ev.Updates {
			forward(api.StreamEvent{Update: &ev.Updates[i]})
		}
		if ev.Dropped != "" {
			// The peer dropped its side (it fell behind or shuts down): reconnect.
			return fmt.Errorf("peer dropped the stream: %s", ev.Dropped)
		}
	}
}
