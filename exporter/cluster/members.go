package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/kafka"
)

// Membership lists the members of the group and the stage-2 (repartition)
// partitions each is assigned.
type Membership interface {
	// Members returns the members; refresh asks for a fresh look rather than a
	// recent cached one (after a query found a partition moved).
	Members(ctx context.Context, refresh bool) ([]api.Member, error)
}

// GroupMembership describes the consumer group through the Kafka admin API: each
// member's advertised URL is in its join metadata, its partitions in its
// assignment. Answers are cached for MaxAge.
type GroupMembership struct {
	Admin       *kadm.Client
	Group       string
	Repartition string // the repartition topic: its partitions are the stage-2 tasks
	MaxAge      time.Duration

	mu      sync.Mutex
	at      time.Time
	members []api.Member
}

func (g *GroupMembership) Members(ctx context.Context, refresh bool) ([]api.Member, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	maxAge := g.MaxAge
	if maxAge <= 0 {
		maxAge = 2 * time.Second
	}
	// A refresh still reuses an answer younger than 50 ms: many queries finding
	// the same moved partition ask the broker once.
	if age := time.Since(g.at); g.members != nil && (age < 50*time.Millisecond || (!refresh && age < maxAge)) {
		return g.members, nil
	}
	described, err := g.Admin.DescribeGroups(ctx, g.Group)
	if err != nil {
		return nil, err
	}
	d, ok := described[g.Group]
	if !ok {
		return nil, fmt.Errorf("group %s not described", g.Group)
	}
	if d.Err != nil {
		return nil, fmt.Errorf("describing group %s: %w", g.Group, d.Err)
	}
	var ms []api.Member
	for _, m := range d.Members {
		am := api.Member{}
		if m.InstanceID != nil {
			am.InstanceID = *m.InstanceID
		}
		if meta, ok := m.Join.AsConsumer(); ok {
			am.URL, _ = kafka.MemberURL(meta)
		}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				if t.Topic == g.Repartition {
					am.Partitions = append(am.Partitions, t.Partitions...)
				}
			}
		}
		slices.Sort(am.Partitions)
		ms = append(ms, am)
	}
	slices.SortFunc(ms, func(a, b api.Member) int {
		return cmp.Or(strings.Compare(a.URL, b.URL), strings.Compare(a.InstanceID, b.InstanceID))
	})
	g.members, g.at = ms, time.Now()
	return ms, nil
}
